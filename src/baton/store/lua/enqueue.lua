-- ARGV: id, field, value, ...   Returns {created (0/1), HGETALL of the stored run}.
local id = ARGV[5]
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
local made = create_run(id, fields)
return { made, redis.call('HGETALL', rkey(id)) }
