-- compare
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    p.traits__country = 'DE'
    AND p.traits__score >= CAST(2.5 AS DOUBLE)
    AND p.traits__vip <> TRUE
  )

-- compare_fields
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  p.traits__age < p.traits__score

-- dates
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    p.traits__birthday < CAST('2000-01-01' AS DATE)
    OR p.traits__signed_up > CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
  )

-- in
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    p.traits__country IN ('DE', 'AT') AND NOT p.traits__age IN (1, 2) AND FALSE
  )

-- text
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    LOCATE('E', p.traits__country) > 0
    AND STARTSWITH(p.traits__country, 'D')
    AND ENDSWITH(p.traits__country, 'E')
    AND NOT p.traits__country IS NULL
  )

-- exists_between
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    NOT p.traits__age IS NULL AND p.traits__age BETWEEN 18 AND 30
  )

-- recency
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    (
      p.traits__signed_up >= CAST('2024-04-01 12:00:00.000000+00:00' AS TIMESTAMP)
      AND p.traits__signed_up <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
    )
    OR p.traits__signed_up < CAST('2024-05-01 11:00:00.000000+00:00' AS TIMESTAMP)
  )

-- arith
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    (
      (
        (
          p.traits__age + 1
        ) * 2
      ) - p.traits__score
    ) > 10
    AND (
      (
        CAST(p.traits__age AS DOUBLE) / NULLIF(CAST(4 AS DOUBLE), 0)
      ) % NULLIF(2, 0)
    ) = 1
  )

-- min_max_concat
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  p.traits__country || '!' = 'DE!'

-- not
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  NOT COALESCE(p.traits__country = 'DE', FALSE)

-- count
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    p.profile_id IN (
      SELECT
        e1.profile_id
      FROM events AS e1
      WHERE
        e1.event = 'Order Completed'
        AND e1.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
        AND e1.timestamp >= CAST('2024-04-01 12:00:00.000000+00:00' AS TIMESTAMP)
      GROUP BY
        e1.profile_id
      HAVING
        COUNT(*) >= 2
    )
    AND NOT EXISTS(
      SELECT
        1
      FROM events AS e2
      WHERE
        e2.profile_id = p.profile_id
        AND e2.event = 'Refund'
        AND e2.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
        AND e2.timestamp >= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
    )
  )

-- count_where
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  EXISTS(
    SELECT
      1
    FROM events AS e1
    WHERE
      e1.profile_id = p.profile_id
      AND e1.event = 'Order Completed'
      AND e1.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
      AND (
        e1.properties__revenue > 100 AND e1.channel = 'web'
      )
  )

-- aggregate
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    p.profile_id IN (
      SELECT
        e1.profile_id
      FROM events AS e1
      WHERE
        e1.event = 'Order Completed'
        AND e1.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
        AND e1.timestamp >= CAST('2024-02-01 12:00:00.000000+00:00' AS TIMESTAMP)
      GROUP BY
        e1.profile_id
      HAVING
        COALESCE(SUM(e1.properties__revenue), 0) > 100
    )
    AND p.profile_id IN (
      SELECT
        e2.profile_id
      FROM events AS e2
      WHERE
        e2.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
      GROUP BY
        e2.profile_id
      HAVING
        COUNT(DISTINCT e2.properties__sku) >= 3
    )
  )

-- followed_by
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  EXISTS(
    SELECT
      1
    FROM events AS e1
    WHERE
      (
        e1.profile_id = p.profile_id
        AND e1.event = 'Product Viewed'
        AND e1.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
      )
      AND EXISTS(
        SELECT
          1
        FROM events AS e2
        WHERE
          (
            e2.profile_id = e1.profile_id
            AND e2.event = 'Order Completed'
            AND e2.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
          )
          AND e2.timestamp > e1.timestamp
      )
  )

-- not_followed_by
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  EXISTS(
    SELECT
      1
    FROM events AS e1
    WHERE
      (
        e1.profile_id = p.profile_id
        AND e1.event = 'Product Added'
        AND e1.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
        AND e1.timestamp >= CAST('2024-04-30 12:00:00.000000+00:00' AS TIMESTAMP)
      )
      AND NOT EXISTS(
        SELECT
          1
        FROM events AS e2
        WHERE
          (
            e2.profile_id = e1.profile_id
            AND e2.event = 'Order Completed'
            AND e2.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
          )
          AND e2.timestamp > e1.timestamp
      )
  )

-- followed_within
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  EXISTS(
    SELECT
      1
    FROM events AS e1
    WHERE
      (
        e1.profile_id = p.profile_id
        AND e1.event = 'Product Added'
        AND e1.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
      )
      AND (
        e1.timestamp <= CAST('2024-04-30 12:00:00.000000+00:00' AS TIMESTAMP)
        AND NOT EXISTS(
          SELECT
            1
          FROM events AS e2
          WHERE
            (
              e2.profile_id = e1.profile_id
              AND e2.event = 'Order Completed'
              AND e2.timestamp <= CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)
            )
            AND (
              e2.timestamp > e1.timestamp
              AND e2.timestamp <= TIMESTAMPADD(SECOND, 86400, e1.timestamp)
            )
        )
      )
  )

-- segment
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  EXISTS(
    SELECT
      1
    FROM segment_members AS s1
    WHERE
      s1.profile_id = p.profile_id AND s1.segment = 'vip'
  )

-- local_hour
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    EXTRACT(HOUR FROM CONVERT_TIMEZONE(COALESCE(p.timezone, 'UTC'), CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP))) BETWEEN 9 AND 17
    AND EXTRACT(DAYOFWEEK_ISO FROM CONVERT_TIMEZONE(COALESCE(p.timezone, 'UTC'), p.traits__signed_up)) <= 5
  )

-- substr_if
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    SUBSTRING(p.traits__country, GREATEST(LENGTH(p.traits__country) + -2, 0) + 1, 1) = 'E'
    AND CASE
      WHEN p.traits__vip IN (TRUE)
      THEN (
        p.traits__score * 2
      )
      ELSE p.traits__score
    END > 10
  )

-- anniversary
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  CASE
    WHEN CAST(CONVERT_TIMEZONE(COALESCE(p.timezone, 'UTC'), CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)) AS DATE) = CAST('2024-04-30' AS DATE)
    THEN EXTRACT(MONTH FROM p.traits__birthday) * 100 + EXTRACT(DAY FROM p.traits__birthday) IN (430, 501, 502, 503, 504, 505, 506, 507)
    WHEN CAST(CONVERT_TIMEZONE(COALESCE(p.timezone, 'UTC'), CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)) AS DATE) = CAST('2024-05-01' AS DATE)
    THEN EXTRACT(MONTH FROM p.traits__birthday) * 100 + EXTRACT(DAY FROM p.traits__birthday) IN (501, 502, 503, 504, 505, 506, 507, 508)
    WHEN CAST(CONVERT_TIMEZONE(COALESCE(p.timezone, 'UTC'), CAST('2024-05-01 12:00:00.000000+00:00' AS TIMESTAMP)) AS DATE) = CAST('2024-05-02' AS DATE)
    THEN EXTRACT(MONTH FROM p.traits__birthday) * 100 + EXTRACT(DAY FROM p.traits__birthday) IN (502, 503, 504, 505, 506, 507, 508, 509)
    ELSE FALSE
  END
