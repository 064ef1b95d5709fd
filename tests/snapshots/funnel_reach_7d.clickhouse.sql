WITH "t6" AS (
  SELECT
    "t1"."user_id" AS "user_id",
    "t1"."timestamp" AS "timestamp",
    "t1"."event" AS "event",
    "t1"."platform" AS "platform",
    "t1"."screen" AS "screen",
    "t1"."revenue" AS "revenue",
    "t1"."_ts" AS "_ts",
    "t1"."_seq" AS "_seq",
    ROW_NUMBER() OVER (
      PARTITION BY "t1"."user_id"
      ORDER BY "t1"."_ts" ASC, "t1"."_seq" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) - 1 AS "_rank"
  FROM (
    SELECT
      "t0"."user_id" AS "user_id",
      "t0"."timestamp" AS "timestamp",
      "t0"."event" AS "event",
      "t0"."platform" AS "platform",
      "t0"."screen" AS "screen",
      "t0"."revenue" AS "revenue",
      "t0"."timestamp" AS "_ts",
      0 AS "_seq"
    FROM "events" AS "t0"
    WHERE
      "t0"."event" = 'app_open'
  ) AS "t1"
), "t12" AS (
  SELECT
    "t11"."user_id" AS "user_id",
    "t11"."t1" AS "t1",
    "t11"."prev_ts" AS "prev_ts",
    "t11"."prev_seq" AS "prev_seq",
    "t11"."c_user" AS "c_user",
    "t11"."c_ts" AS "c_ts",
    "t11"."c_seq" AS "c_seq",
    ROW_NUMBER() OVER (
      PARTITION BY "t11"."user_id"
      ORDER BY "t11"."c_ts" ASC, "t11"."c_seq" ASC
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) - 1 AS "_rank"
  FROM (
    SELECT
      "t10"."user_id" AS "user_id",
      "t10"."t1" AS "t1",
      "t10"."prev_ts" AS "prev_ts",
      "t10"."prev_seq" AS "prev_seq",
      "t5"."c_user" AS "c_user",
      "t5"."c_ts" AS "c_ts",
      "t5"."c_seq" AS "c_seq"
    FROM (
      SELECT
        "t7"."user_id" AS "user_id",
        "t7"."_ts" AS "t1",
        "t7"."_ts" AS "prev_ts",
        "t7"."_seq" AS "prev_seq"
      FROM "t6" AS "t7"
      WHERE
        "t7"."_rank" = 0
    ) AS "t10"
    INNER JOIN (
      SELECT
        "t0"."user_id" AS "c_user",
        "t0"."timestamp" AS "c_ts",
        0 AS "c_seq"
      FROM "events" AS "t0"
      WHERE
        "t0"."event" = 'add_to_cart'
    ) AS "t5"
      ON "t10"."user_id" = "t5"."c_user"
      AND "t5"."c_ts" > "t10"."prev_ts"
      AND "t5"."c_ts" <= (
        "t10"."t1" + INTERVAL '604800' SECOND
      )
  ) AS "t11"
)
SELECT
  *
FROM (
  SELECT
    "t19"."user_id" AS "user_id",
    3 AS "step",
    DATE_DIFF(MICROSECOND, "t19"."t1", "t19"."c_ts") AS "elapsed_us"
  FROM (
    SELECT
      "t18"."user_id" AS "user_id",
      "t18"."t1" AS "t1",
      "t18"."prev_ts" AS "prev_ts",
      "t18"."prev_seq" AS "prev_seq",
      "t18"."c_user" AS "c_user",
      "t18"."c_ts" AS "c_ts",
      "t18"."c_seq" AS "c_seq",
      ROW_NUMBER() OVER (
        PARTITION BY "t18"."user_id"
        ORDER BY "t18"."c_ts" ASC, "t18"."c_seq" ASC
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
      ) - 1 AS "_rank"
    FROM (
      SELECT
        "t17"."user_id" AS "user_id",
        "t17"."t1" AS "t1",
        "t17"."prev_ts" AS "prev_ts",
        "t17"."prev_seq" AS "prev_seq",
        "t4"."c_user" AS "c_user",
        "t4"."c_ts" AS "c_ts",
        "t4"."c_seq" AS "c_seq"
      FROM (
        SELECT
          "t13"."user_id" AS "user_id",
          "t13"."t1" AS "t1",
          "t13"."c_ts" AS "prev_ts",
          "t13"."c_seq" AS "prev_seq"
        FROM "t12" AS "t13"
        WHERE
          "t13"."_rank" = 0
      ) AS "t17"
      INNER JOIN (
        SELECT
          "t0"."user_id" AS "c_user",
          "t0"."timestamp" AS "c_ts",
          0 AS "c_seq"
        FROM "events" AS "t0"
        WHERE
          "t0"."event" = 'purchase'
      ) AS "t4"
        ON "t17"."user_id" = "t4"."c_user"
        AND "t4"."c_ts" > "t17"."prev_ts"
        AND "t4"."c_ts" <= (
          "t17"."t1" + INTERVAL '604800' SECOND
        )
    ) AS "t18"
  ) AS "t19"
  WHERE
    "t19"."_rank" = 0
) AS "t20"
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t7"."user_id" AS "user_id",
      1 AS "step",
      CAST(0 AS Nullable(Int64)) AS "elapsed_us"
    FROM "t6" AS "t7"
    WHERE
      "t7"."_rank" = 0
  ) AS "t8"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      "t13"."user_id" AS "user_id",
      2 AS "step",
      DATE_DIFF(MICROSECOND, "t13"."t1", "t13"."c_ts") AS "elapsed_us"
    FROM "t12" AS "t13"
    WHERE
      "t13"."_rank" = 0
  ) AS "t14"
) AS "t16"
