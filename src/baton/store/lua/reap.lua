-- Requeue runs whose lease expired (attempt + 1, lease losses + 1: no attempt of the
-- job's own is spent; the due time stays), or mark them dead once they lost more leases than their budget.
-- ARGV: limit, requeue error json, dead error json (%d: the losses, the budget).
-- Returns HGETALL replies of the reaped runs.
local ids = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', '(' .. fmt(NOW), 'LIMIT', 0, tonumber(ARGV[5]))
local err = ARGV[6]
local out = {}
for _, id in ipairs(ids) do
  local key = rkey(id)
  local f = redis.call('HMGET', key, 'sid', 'att', 'll', 'pri', 'ml', 'due')
  redis.call('ZREM', P .. 'leases', id)
  conc_add(f[1], -1)
  local att = tonumber(f[2])
  local lost = tonumber(f[3]) or 0
  if lost < max_lease_losses(f[5]) then
    -- It keeps its due time, and so its place in the queue.
    redis.call('HSET', key, 'st', 'queued', 'att', att + 1, 'll', lost + 1,
      'own', '', 'tok', '', 'lease', '', 's', '', 'err', err)
    enqueue(id, tonumber(f[4]), tonumber(f[6]))
    run_event('run.requeued', id)
  else
    redis.call('HSET', key, 'st', 'dead', 'own', '', 'tok', '', 'lease', '', 'f', fmt(NOW),
      'err', string.format(ARGV[7], lost + 1, max_lease_losses(f[5])))
    redis.call('ZADD', P .. 'fin', fmt(NOW), id)
    run_event('run.dead', id)
  end
  out[#out + 1] = redis.call('HGETALL', key)
end
return out
