-- ARGV: id, reason
local id, reason = ARGV[5], ARGV[6]
if redis.call('HDEL', P .. 's', id) == 0 then return 0 end
redis.call('ZREM', P .. 'due', id)
emit('schedule.removed', id, { reason = reason })
wake('schedules')
return 1
