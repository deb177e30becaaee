-- ARGV: owner, limit, lease (us), horizon (us), tokens...
local tokens = {}
for i = 9, #ARGV do tokens[#tokens + 1] = ARGV[i] end
return claim(ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tokens)
