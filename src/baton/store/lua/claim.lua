-- ARGV: owner, limit, lease (us), horizon (us), job types (json list, '' = any), tokens...
local tokens = {}
for i = 10, #ARGV do tokens[#tokens + 1] = ARGV[i] end
return claim(ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tokens, nil,
  type_set(ARGV[9]))
