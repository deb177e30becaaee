-- Requeue runs whose lease expired (attempt + 1), or mark them dead on their last attempt.
-- ARGV: limit, error json. Returns HGETALL replies of the reaped runs.
local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. fmt(NOW), 'LIMIT', 0, tonumber(ARGV[5]))
local err = ARGV[6]
local out = {}
for _, id in ipairs(ids) do
  local key = rkey(id)
  local f = redis.call('HMGET', key, 'sid', 'att', 'mx', 'pri')
  redis.call('ZREM', P .. 'leases', id)
  conc_add(f[1], -1)
  local att = tonumber(f[2])
  if att < tonumber(f[3]) then
    redis.call('HSET', key, 'st', 'queued', 'att', att + 1, 'due', fmt(NOW), 'own', '',
      'tok', '', 'lease', '', 's', '', 'err', err)
    enqueue(id, tonumber(f[4]), NOW)
    run_event('run.requeued', id)
  else
    redis.call('HSET', key, 'st', 'dead', 'own', '', 'tok', '', 'lease', '', 'f', fmt(NOW),
      'err', err)
    redis.call('ZADD', P .. 'fin', fmt(NOW), id)
    run_event('run.dead', id)
  end
  out[#out + 1] = redis.call('HGETALL', key)
end
if #out > 0 then
  wake('queue')
  wake('done')
end
return out
