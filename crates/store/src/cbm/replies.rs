//! Replies on notifications and in consultation threads, each written with its idempotency key, stream event and
//! audit record in one transaction.

use liaison_core::{
    AgencyId, ObjectId, Timestamp, Tlp,
    cbm::{
        CONSULTATION_PREFIX, LocalizedText, NOTIFICATION_PREFIX, REPLY_PREFIX, Reply, ReplyAudience,
    },
};

use crate::{
    Store, StoreError,
    cbm::parse_principal,
    idempotency::{WriteOutcome, record_request, seen_request},
    tx::WritePool,
    with_pool,
};

const METHOD_POST: &str = "liaison.v1.CbmService/PostReply";
const COLUMNS: &str = "id, parent_id, sender_agency_id, sender, body, body_language, audience, \
     in_reply_to_id, tlp, created_us";

type ReplyRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
);

fn reply_from_row(row: ReplyRow) -> Result<Reply, StoreError> {
    let (id, parent, agency, sender, body, language, audience, in_reply_to, tlp, created) = row;
    Ok(Reply {
        id: ObjectId::parse(REPLY_PREFIX, &id).map_err(|_| StoreError::corrupt("reply id", &id))?,
        parent: ObjectId::parse(NOTIFICATION_PREFIX, &parent)
            .or_else(|_| ObjectId::parse(CONSULTATION_PREFIX, &parent))
            .map_err(|_| StoreError::corrupt("reply parent", &parent))?,
        sender_agency: AgencyId::parse(&agency)
            .map_err(|_| StoreError::corrupt("agency", &agency))?,
        sender: parse_principal(&sender)?,
        body: LocalizedText {
            text: body,
            language,
        },
        audience: ReplyAudience::parse(&audience)
            .ok_or_else(|| StoreError::corrupt("audience", &audience))?,
        in_reply_to: in_reply_to
            .map(|id| {
                ObjectId::parse(REPLY_PREFIX, &id).map_err(|_| StoreError::corrupt("reply id", &id))
            })
            .transpose()?,
        tlp: tlp
            .parse::<Tlp>()
            .map_err(|_| StoreError::corrupt("tlp", &tlp))?,
        created: Timestamp::from_micros(created),
    })
}

/// Inserts a reply and its stream event inside transaction `$tx`.
macro_rules! insert_reply {
    ($tx:ident, $pool:ident, $reply:expr) => {{
        sqlx::query(
            "INSERT INTO cbm_replies (id, parent_id, sender_agency_id, sender, body, body_language,
                    audience, in_reply_to_id, tlp, created_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind($reply.id.as_str())
        .bind($reply.parent.as_str())
        .bind($reply.sender_agency.as_str())
        .bind($reply.sender.to_string())
        .bind(&$reply.body.text)
        .bind(&$reply.body.language)
        .bind($reply.audience.as_str())
        .bind($reply.in_reply_to.as_ref().map(ObjectId::as_str))
        .bind($reply.tlp.as_str())
        .bind($reply.created.as_micros())
        .execute(&mut *$tx)
        .await?;
        let (kind, object) = $crate::cbm::CbmEventKind::ReplyPosted($reply.id.clone()).storage();
        crate::outbox::write_outbox!(
            $tx,
            $pool,
            $crate::cbm::TOPIC,
            kind,
            object,
            $reply.created,
            None::<String>
        );
    }};
}
pub(crate) use insert_reply;

impl Store {
    /// Stores a reply with its stream event and audit record; a repeated `request_id`
    /// stores nothing.
    pub async fn post_reply(
        &self,
        reply: &Reply,
        request_id: &str,
        audit_record: &[u8],
    ) -> Result<WriteOutcome<()>, StoreError> {
        let sender = reply.sender.to_string();
        let now = reply.created;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &sender, request_id, METHOD_POST);
            insert_reply!(tx, pool, reply);
            record_request!(tx, &sender, request_id, METHOD_POST, reply.id.as_str(), now);
            let record = String::from_utf8_lossy(audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", reply.id.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(WriteOutcome::Stored(()))
    }

    /// One reply.
    pub async fn get_reply(&self, id: &ObjectId) -> Result<Option<Reply>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM cbm_replies WHERE id = $1");
        let row: Option<ReplyRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?
        });
        row.map(reply_from_row).transpose()
    }

    /// The replies on a notification or in a consultation, oldest first.
    pub async fn replies_of(
        &self,
        parent: &ObjectId,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Reply>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM cbm_replies WHERE parent_id = $1 ORDER BY id LIMIT {limit} OFFSET $2"
        );
        let rows: Vec<ReplyRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(parent.as_str())
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(reply_from_row).collect()
    }
}
