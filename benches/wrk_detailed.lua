-- wrk script: LIST the KV v2 metadata of every folder listed in a file (one folder per line,
-- relative to the mount) through OpenBao's detailed listing, which answers a folder's keys with
-- each secret's metadata, in turn, over keep-alive connections; each thread starts at its own
-- offset (a LIST sent as `GET ?list=true`, as credwatch sends it). The capacity of the server
-- for the way `credwatch` scans it.
-- Usage: wrk -t2 -c16 -d5s -H 'X-Vault-Token: ...' -s benches/wrk_detailed.lua URL -- FOLDERS MOUNT

local threads = 0

function setup(thread)
    thread:set("offset", threads)
    threads = threads + 1
end

local folders = {}
local next_index = 0

function init(args)
    local mount = args[2] or "secret"
    for line in io.lines(args[1]) do
        folders[#folders + 1] = "/v1/" .. mount .. "/detailed-metadata/" .. line .. "/?list=true&limit=1000"
    end
    if #folders == 0 then
        error("no folders in " .. args[1])
    end
    next_index = ((offset or 0) * 7919) % #folders
end

function request()
    next_index = next_index % #folders + 1
    return wrk.format("GET", folders[next_index])
end
