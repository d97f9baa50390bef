-- wrk script: over keep-alive connections, each thread starting at its own offset, in turn
-- either GET the KV v2 metadata of every secret listed in a file (one path per line, relative to
-- the mount), or, with `detailed`, LIST every folder listed in the file through OpenBao's
-- detailed listing, whose pages hold each secret's metadata (a LIST sent as `GET ?list=true`,
-- as credwatch sends it, in pages of 250; the way `credwatch` scans).
-- Usage: wrk -t2 -c16 -d5s -H 'X-Vault-Token: ...' -s benches/wrk_metadata.lua URL -- PATHS MOUNT
--        wrk ... -s benches/wrk_metadata.lua URL -- FOLDERS MOUNT detailed

local threads = 0

function setup(thread)
    thread:set("offset", threads)
    threads = threads + 1
end

local urls = {}
local next_index = 0

function init(args)
    local mount = args[2] or "secret"
    local detailed = args[3] == "detailed"
    for line in io.lines(args[1]) do
        if detailed then
            urls[#urls + 1] = "/v1/" .. mount .. "/detailed-metadata/" .. line .. "/?list=true&limit=250"
        else
            urls[#urls + 1] = "/v1/" .. mount .. "/metadata/" .. line
        end
    end
    if #urls == 0 then
        error("no paths in " .. args[1])
    end
    next_index = ((offset or 0) * 7919) % #urls
end

function request()
    next_index = next_index % #urls + 1
    return wrk.format("GET", urls[next_index])
end
