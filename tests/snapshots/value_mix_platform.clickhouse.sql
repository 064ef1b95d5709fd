SELECT
  "t1"."_value" AS "_value",
  COUNT(*) AS "events",
  uniq("t1"."user_id") AS "users"
FROM (
  SELECT
    "t0"."user_id" AS "user_id",
    "t0"."timestamp" AS "timestamp",
    "t0"."event" AS "event",
    "t0"."platform" AS "platform",
    "t0"."screen" AS "screen",
    "t0"."revenue" AS "revenue",
    COALESCE("t0"."platform", '(missing)') AS "_value"
  FROM "events" AS "t0"
) AS "t1"
GROUP BY
  "t1"."_value"
