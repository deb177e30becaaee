-- Put leased runs back in the queue unchanged. ARGV: owner, run id / token pairs.
local owner = ARGV[5]
local count = 0
for i = 6, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local key = rkey(id)
  local f = redis.call('HMGET', key, 'st', 'tok', 'sid', 'pri', 'due')
  if holds(f[1], f[2], token) then
    redis.call('ZREM', P .. 'leases', id)
    conc_add(f[3], -1)
    redis.call('HSET', key, 'st', 'queued', 'own', '', 'tok', '', 'lease', '', 's', '')
    enqueue(id, tonumber(f[4]), tonumber(f[5]))
    emit('run.released', id, { node = owner })
    count = count + 1
  end
end
return count
