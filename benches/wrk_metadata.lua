-- wrk script: GET the KV v2 metadata of every secret listed in a file (one path per line, relative
-- to the mount), in turn, over keep-alive connections; each thread starts at its own offset.
-- Usage: wrk -t2 -c16 -d5s -H 'X-Vault-Token: ...' -s benches/wrk_metadata.lua URL -- PATHS MOUNT

local threads = 0

function setup(thread)
    thread:set("offset", threads)
    threads = threads + 1
end

local paths = {}
local next_index = 0

function init(args)
    local mount = args[2] or "secret"
    for line in io.lines(args[1]) do
        paths[#paths + 1] = "/v1/" .. mount .. "/metadata/" .. line
    end
    if #paths == 0 then
        error("no paths in " .. args[1])
    end
    next_index = ((offset or 0) * 7919) % #paths
end

function request()
    next_index = next_index % #paths + 1
    return wrk.format("GET", paths[next_index])
end
