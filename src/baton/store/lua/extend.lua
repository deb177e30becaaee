-- ARGV: lease (us), then run id / token pairs. Returns {kept ids, cancel-requested ids}.
local lease = tonumber(ARGV[5])
local kept, cancel = {}, {}
for i = 6, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', rkey(id), 'st', 'tok', 'cr')
  if holds(f[1], f[2], token) then
    redis.call('HSET', rkey(id), 'lease', fmt(NOW + lease))
    redis.call('ZADD', P .. 'leases', fmt(NOW + lease), id)
    kept[#kept + 1] = id
    if f[3] == '1' then cancel[#cancel + 1] = id end
  end
end
return { kept, cancel }
