WITH "t4" AS (
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
), "t10" AS (
  SELECT
    "t9"."e_user" AS "e_user",
    "t9"."e_t1" AS "e_t1",
    MIN(CASE WHEN "t9"."_m1" THEN "t9"."_ts" ELSE NULL END) AS "f1",
    MIN(CASE WHEN "t9"."_m2" THEN "t9"."_ts" ELSE NULL END) AS "f2"
  FROM (
    SELECT
      "t3"."user_id" AS "user_id",
      "t3"."timestamp" AS "timestamp",
      "t3"."event" AS "event",
      "t3"."platform" AS "platform",
      "t3"."screen" AS "screen",
      "t3"."revenue" AS "revenue",
      "t3"."_ts" AS "_ts",
      "t3"."_seq" AS "_seq",
      "t3"."_m0" AS "_m0",
      "t3"."_m1" AS "_m1",
      "t3"."_m2" AS "_m2",
      "t8"."e_user" AS "e_user",
      "t8"."e_t1" AS "e_t1",
      "t8"."e_deadline" AS "e_deadline"
    FROM (
      SELECT
        "t0"."user_id" AS "user_id",
        "t0"."timestamp" AS "timestamp",
        "t0"."event" AS "event",
        "t0"."platform" AS "platform",
        "t0"."screen" AS "screen",
        "t0"."revenue" AS "revenue",
        "t0"."timestamp" AS "_ts",
        0 AS "_seq",
        "t0"."event" = 'app_open' AS "_m0",
        "t0"."event" = 'add_to_cart' AS "_m1",
        "t0"."event" = 'purchase' AS "_m2"
      FROM "events" AS "t0"
    ) AS "t3"
    INNER JOIN (
      SELECT
        "t5"."user_id" AS "e_user",
        "t5"."_ts" AS "e_t1",
        "t5"."_ts" + INTERVAL '604800' SECOND AS "e_deadline"
      FROM "t4" AS "t5"
      WHERE
        "t5"."_rank" = 0
    ) AS "t8"
      ON "t3"."user_id" = "t8"."e_user"
      AND "t3"."_ts" >= "t8"."e_t1"
      AND "t3"."_ts" <= "t8"."e_deadline"
  ) AS "t9"
  GROUP BY
    "t9"."e_user",
    "t9"."e_t1"
)
SELECT
  *
FROM (
  SELECT
    "t13"."e_user" AS "user_id",
    3 AS "step",
    DATE_DIFF(MICROSECOND, "t13"."e_t1", "t13"."r2") AS "elapsed_us"
  FROM (
    SELECT
      "t11"."e_user" AS "e_user",
      "t11"."e_t1" AS "e_t1",
      "t11"."f1" AS "f1",
      "t11"."f2" AS "f2",
      CASE WHEN isNull("t11"."f1") THEN NULL ELSE "t11"."f1" END AS "r1",
      CASE
        WHEN isNull("t11"."f1") OR isNull("t11"."f2")
        THEN NULL
        ELSE GREATEST("t11"."f1", "t11"."f2")
      END AS "r2"
    FROM "t10" AS "t11"
  ) AS "t13"
  WHERE
    isNotNull("t13"."r2")
) AS "t15"
UNION ALL
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t5"."user_id" AS "user_id",
      1 AS "step",
      CAST(0 AS Nullable(Int64)) AS "elapsed_us"
    FROM "t4" AS "t5"
    WHERE
      "t5"."_rank" = 0
  ) AS "t6"
  UNION ALL
  SELECT
    *
  FROM (
    SELECT
      "t11"."e_user" AS "user_id",
      2 AS "step",
      DATE_DIFF(
        MICROSECOND,
        "t11"."e_t1",
        CASE WHEN isNull("t11"."f1") THEN NULL ELSE "t11"."f1" END
      ) AS "elapsed_us"
    FROM "t10" AS "t11"
    WHERE
      isNotNull(CASE WHEN isNull("t11"."f1") THEN NULL ELSE "t11"."f1" END)
  ) AS "t12"
) AS "t14"
