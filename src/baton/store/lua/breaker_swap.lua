-- Swap a circuit breaker's JSON if it is still what the caller read, and append the
-- event of the transition. ARGV: key, expected ('' = none stored), new JSON, event kind
-- ('' = no event), event subject, event data JSON. Returns 1, or 0 (nothing written).
local key = ARGV[5]
local current = redis.call('HGET', P .. 'br', key)
if (current or '') ~= ARGV[6] then return 0 end
redis.call('HSET', P .. 'br', key, ARGV[7])
if ARGV[8] ~= '' then emit_json(ARGV[8], ARGV[9], ARGV[10]) end
return 1
