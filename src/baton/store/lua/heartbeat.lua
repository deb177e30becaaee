-- ARGV: node name, node json (without heartbeat time).
redis.call('HSET', P .. 'nodes', ARGV[5], ARGV[6])
redis.call('HSET', P .. 'hb', ARGV[5], fmt(NOW))
return fmt(NOW)
