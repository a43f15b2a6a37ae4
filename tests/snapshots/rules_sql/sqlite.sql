-- compare
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    p.traits__country = 'DE'
    AND p.traits__score >= CAST(2.5 AS REAL)
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
    p.traits__birthday < '2000-01-01'
    OR p.traits__signed_up > '2024-05-01T12:00:00.000000Z'
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
    INSTR(p.traits__country, 'E') > 0
    AND SUBSTRING(p.traits__country, 1, 1) = 'D'
    AND SUBSTRING(p.traits__country, -1, 1) = 'E'
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
      p.traits__signed_up >= '2024-04-01T12:00:00.000000Z'
      AND p.traits__signed_up <= '2024-05-01T12:00:00.000000Z'
    )
    OR p.traits__signed_up < '2024-05-01T11:00:00.000000Z'
  )

-- arith
-- unsupported: sqlite cannot express remainders of non-integers

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
        AND e1.timestamp <= '2024-05-01T12:00:00.000000Z'
        AND e1.timestamp >= '2024-04-01T12:00:00.000000Z'
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
        AND e2.timestamp <= '2024-05-01T12:00:00.000000Z'
        AND e2.timestamp >= '2024-05-01T12:00:00.000000Z'
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
      AND e1.timestamp <= '2024-05-01T12:00:00.000000Z'
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
        AND e1.timestamp <= '2024-05-01T12:00:00.000000Z'
        AND e1.timestamp >= '2024-02-01T12:00:00.000000Z'
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
        e2.timestamp <= '2024-05-01T12:00:00.000000Z'
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
        AND e1.timestamp <= '2024-05-01T12:00:00.000000Z'
      )
      AND EXISTS(
        SELECT
          1
        FROM events AS e2
        WHERE
          (
            e2.profile_id = p.profile_id
            AND e2.event = 'Order Completed'
            AND e2.timestamp <= '2024-05-01T12:00:00.000000Z'
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
        AND e1.timestamp <= '2024-05-01T12:00:00.000000Z'
        AND e1.timestamp >= '2024-04-30T12:00:00.000000Z'
      )
      AND NOT EXISTS(
        SELECT
          1
        FROM events AS e2
        WHERE
          (
            e2.profile_id = p.profile_id
            AND e2.event = 'Order Completed'
            AND e2.timestamp <= '2024-05-01T12:00:00.000000Z'
          )
          AND e2.timestamp > e1.timestamp
      )
  )

-- followed_within
-- unsupported: sqlite cannot express time spans between two events

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
-- unsupported: sqlite cannot express local time (it has no time-zone database)

-- substr_if
SELECT
  p.profile_id
FROM profiles AS p
WHERE
  (
    SUBSTRING(p.traits__country, MAX(LENGTH(p.traits__country) + -2, 0) + 1, 1) = 'E'
    AND CASE
      WHEN p.traits__vip IN (TRUE)
      THEN (
        p.traits__score * 2
      )
      ELSE p.traits__score
    END > 10
  )

-- anniversary
-- unsupported: sqlite cannot express anniversaries (it has no time-zone database)
