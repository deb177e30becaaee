-- Write many schedules in one step: all of them, or none if one is taken (without
-- replace). A replaced schedule's version goes on from the stored one: its state JSON
-- always starts with the version, which is rewritten here.
-- ARGV: replace ('1' / ''), the number c of ids written by later calls of the same bulk
--       add (checked here, so that a taken id refuses the whole add before any part of
--       it is written), those c ids, the number of shapes k, k pairs (shape id, shape
--       json), then per schedule: id, definition, state (version 1), next fire (us,
--       '' = none), shape id.
local replace = ARGV[5] == '1'
local nlater = tonumber(ARGV[6])
local nshapes = tonumber(ARGV[7 + nlater])
local shapes = 8 + nlater
local first = shapes + 2 * nshapes
if not replace then
  for i = 7, 6 + nlater do
    if redis.call('HEXISTS', skey('m', ARGV[i]), ARGV[i]) == 1 then
      return { 'exists', ARGV[i] }
    end
  end
  for i = first, #ARGV, 5 do
    if redis.call('HEXISTS', skey('m', ARGV[i]), ARGV[i]) == 1 then
      return { 'exists', ARGV[i] }
    end
  end
end
-- Per shape: store it, and the JSON of its schedules' events (their job type).
local typed = {}
for i = shapes, first - 1, 2 do
  redis.call('HSET', P .. 'shapes', ARGV[i], ARGV[i + 1])
  typed[ARGV[i]] = cjson.encode({ type = cjson.decode(ARGV[i + 1])['t'] })
end
local versions = {}
local touched = {}
for i = first, #ARGV, 5 do
  local id, state, nxt = ARGV[i], ARGV[i + 2], ARGV[i + 3]
  local kind = 'schedule.added'
  local current = replace and version_of(id) or nil
  if current then
    kind = 'schedule.replaced'
    state = string.gsub(state, '^%[%d+', '[' .. fmt(current + 1), 1)
  end
  versions[#versions + 1] = (current or 0) + 1
  redis.call('HSET', skey('s', id), id, ARGV[i + 1])
  redis.call('HSET', skey('m', id), id, state)
  touched[place_due(id, nxt)] = true
  emit_json(kind, id, typed[ARGV[i + 4]])
end
-- Each touched bucket's earliest fire, once per bucket rather than once per schedule.
for b in pairs(touched) do
  index_bucket(b)
end
wake('schedules')
return { 'ok', versions }
