-- ARGV: id, reason
local id, reason = ARGV[5], ARGV[6]
if drop_schedule(id) == 0 then return 0 end
emit('schedule.removed', id, { reason = reason })
return 1
