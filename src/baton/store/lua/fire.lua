-- Commit fire plans, each guarded by the version its schedule had when it was read;
-- then, if asked, claim like claim.lua.
-- ARGV: plans (json list of {id, v, mut ('' = trigger finished), next, runs: [[id,
--       field, value, ...]], skipped: {from, until, type} | null}), owner ('' = no
--       claim), limit, lease, horizon, tokens...
local plans = cjson.decode(ARGV[5])
local created = {}
local known = {}
for _, plan in ipairs(plans) do
  if version_of(plan.id) == plan.v then
    if plan.mut == '' then
      drop_schedule(plan.id)
      emit('schedule.removed', plan.id, { reason = 'trigger finished' })
    else
      redis.call('HSET', skey('m', plan.id), plan.id, plan.mut)
      set_due(plan.id, plan.next)
    end
    if plan.skipped ~= cjson.null and plan.skipped ~= nil then
      emit('schedule.misfired', plan.id, plan.skipped)
    end
    for _, run in ipairs(plan.runs) do
      local rid = table.remove(run, 1)
      if create_run(rid, run) == 1 then
        created[#created + 1] = rid
        known[rid] = true
      end
    end
  end
end
local claimed = {}
if ARGV[6] ~= '' then
  local tokens = {}
  for i = 10, #ARGV do tokens[#tokens + 1] = ARGV[i] end
  claimed = claim(ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tokens,
    known)
end
if #created > #claimed then wake('queue') end
return { created, claimed }
