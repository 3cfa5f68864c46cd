WITH logged AS (
                     INSERT INTO audit_log (leaf_index, record, leaf_hash, sequenced_us, time_us, actor_agency,
                         actor_principal, method, outcome)
                     SELECT index, record, hash, $4, time_us, agency, principal, method, outcome
                     FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $5::BIGINT[], $6::TEXT[], $7::TEXT[],
                                 $8::TEXT[], $9::BIGINT[])
                          AS leaf(index, record, hash, time_us, agency, principal, method, outcome)
                 ), counted AS (
                     UPDATE audit_sequence SET next_leaf = $14 WHERE id = 1
                 )
                 INSERT INTO audit_objects (leaf_index, object_id, owner_agency, anonymous)
                 SELECT * FROM UNNEST($10::BIGINT[], $11::TEXT[], $12::TEXT[], $13::BOOLEAN[])