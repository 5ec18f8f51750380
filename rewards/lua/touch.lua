-- Sweep: brings one user up to date as any call touching them would (settle, expire, announce, re-tier) and
-- sets their due indexes. Returns the number of facts in their outbox.
due()
return redis.call('LLEN', K_OUT)
