-- End the wait of a waiting run: queued, due now (ARGV[6] = '1'), or skipped. Guarded by
-- the run still waiting, so that however many nodes settle it, one transition happens.
-- ARGV: id, release ('1' or '0'), note. Returns HGETALL of the run (empty if none).
local id, release, note = ARGV[5], ARGV[6], ARGV[7]
local key = rkey(id)
local f = redis.call('HMGET', key, 'st', 'pri')
if not f[1] then return {} end
if f[1] == 'waiting' then
  redis.call('ZREM', P .. 'waiting', id)
  if release == '1' then
    redis.call('HSET', key, 'st', 'queued', 'due', fmt(NOW), 'note', note)
    enqueue(id, tonumber(f[2]), NOW)
    run_event('run.queued', id)
  else
    redis.call('HSET', key, 'st', 'skipped', 'f', fmt(NOW), 'note', note)
    redis.call('ZADD', P .. 'fin', fmt(NOW), id)
    run_event('run.skipped', id)
  end
end
return redis.call('HGETALL', key)
