-- Give a run that ended failed, dead or cancelled one more attempt, due now.
-- ARGV: id, reason. Returns HGETALL of the run after the change (empty if none).
local id, reason = ARGV[5], ARGV[6]
local key = rkey(id)
local f = redis.call('HMGET', key, 'st', 'att', 'pri')
if not f[1] then return {} end
if f[1] == 'failed' or f[1] == 'dead' or f[1] == 'cancelled' or f[1] == 'skipped' then
  redis.call('HSET', key, 'st', 'queued', 'att', tonumber(f[2]) + 1, 'due', fmt(NOW),
    'own', '', 'tok', '', 'lease', '', 'cr', '', 's', '', 'f', '', 'err', '', 'note', reason)
  redis.call('ZREM', P .. 'fin', id)
  enqueue(id, tonumber(f[3]), NOW)
  run_event('run.queued', id)
end
return redis.call('HGETALL', key)
