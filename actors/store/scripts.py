"""The Lua scripts of `RedisStore`: each is one atomic step on the server.

A script touches only the keys it is given, except `CLAIM`, which reads the
liveness key of the session's current holder (a key named by a value, so
Redis Cluster would need the keys hash-tagged; Orchestra targets one server).
"""

from __future__ import annotations

import hashlib

# KEYS: active, sess(new), the tenant's session index. ARGV: sid, record, created_at.
# Returns the active sid, or nil when stored (record, active slot and index at once).
CREATE = """
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return false
"""

# A turn, all or nothing: its messages, the session state, the audit (the tenant's
# log and one index per session), and the proposals the turn made (record and
# indexes), only while `owner` holds the session (fencing: a host that lost the
# session writes nothing).
# KEYS: hist, state, audit, own, props, sprops, open, due, S session-audit lists,
#       P proposal records, then the session's turn records (the inspector's).
# ARGV: state, #hist, #audit, P, owner ('' = unchecked), S counts of session-audit
#       items, the history items, the audit items, the session-audit items, then per
#       proposal: id, record, created_at, open/due member, expires_at ('' = none);
#       last, the turn record ('' = none) and how many turn records to keep.
# Returns 1, or the current holder ('' when none) when `owner` does not hold it.
SAVE_TURN = """
local P = tonumber(ARGV[4])
if ARGV[5] ~= '' then
  local cur = redis.call('GET', KEYS[4])
  if cur ~= ARGV[5] then return cur or '' end
end
local function push(key, from, n)
  local i = from
  while i < from + n do
    local j = math.min(i + 499, from + n - 1)
    redis.call('RPUSH', key, unpack(ARGV, i, j))
    i = j + 1
  end
end
local sessions = #KEYS - 9 - P
local at = 6 + sessions
local n = tonumber(ARGV[2])
push(KEYS[1], at, n)
at = at + n
redis.call('SET', KEYS[2], ARGV[1])
n = tonumber(ARGV[3])
push(KEYS[3], at, n)
at = at + n
for s = 1, sessions do
  n = tonumber(ARGV[5 + s])
  push(KEYS[8 + s], at, n)
  at = at + n
end
for i = 1, P do
  local pid, created, member, expires = ARGV[at], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4]
  redis.call('SET', KEYS[8 + sessions + i], ARGV[at + 1])
  redis.call('ZADD', KEYS[5], created, pid)
  redis.call('ZADD', KEYS[6], created, pid)
  redis.call('ZADD', KEYS[7], created, member)
  if expires ~= '' then redis.call('ZADD', KEYS[8], expires, member) end
  at = at + 5
end
if ARGV[at] ~= '' then
  redis.call('RPUSH', KEYS[#KEYS], ARGV[at])
  redis.call('LTRIM', KEYS[#KEYS], -tonumber(ARGV[at + 1]), -1)
end
return 1
"""

# KEYS: own. ARGV: owner ("host|incarnation"), the liveness key prefix, take ('1'/'0').
# Claims the session unless a live other owner holds it: returns that holder, or nil
# when the session is ours. With take '0' a free session is left free: returns ''.
CLAIM = """
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then return false end
if cur then
  local sep = string.find(cur, '|', 1, true)
  if sep and redis.call('GET', ARGV[2] .. string.sub(cur, 1, sep - 1))
      == string.sub(cur, sep + 1) then
    return cur
  end
end
if ARGV[3] ~= '1' then return '' end
redis.call('SET', KEYS[1], ARGV[1])
return false
"""

# KEYS: own. ARGV: owner. Deletes the lease only if `owner` still holds it.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


def sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


SAVE_TURN_SHA = sha(SAVE_TURN)
