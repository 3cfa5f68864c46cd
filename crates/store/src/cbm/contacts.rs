//! Points of contact (OSCE CBM 8, Budapest Convention Art. 35): kept by each agency's
//! officers, readable by all. Every change is announced to all members by a POC-update
//! notification committed in the same transaction, with its audit record.

use liaison_core::{
    AgencyId, ObjectId, PrincipalId, Timestamp,
    cbm::{ChannelKind, ContactLevel, Notification, POC_PREFIX, PocContent, PointOfContact},
};
use sqlx::Row;

use crate::{
    Store, StoreError,
    cbm::insert_notification,
    idempotency::{WriteOutcome, record_request, seen_request},
    tx::WritePool,
    with_pool,
};

const METHOD_SET: &str = "liaison.v1.DirectoryService/SetPointOfContact";
const METHOD_DELETE: &str = "liaison.v1.DirectoryService/DeletePointOfContact";
const COLUMNS: &str =
    "id, agency_id, level, function, channels, languages, hours, around_the_clock, confirm_us";

/// A change of a point of contact, with what announces and records it.
#[derive(Debug)]
pub struct PocChange<'a> {
    /// The officer making it.
    pub actor: &'a PrincipalId,
    /// The client's idempotency key.
    pub request_id: &'a str,
    /// The POC-update notification to all members.
    pub announcement: &'a Notification,
    /// The audit record.
    pub audit_record: Vec<u8>,
}

fn poc_from_row<R>(row: &R) -> Result<PointOfContact, StoreError>
where
    R: Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let id: String = row.try_get("id")?;
    let agency: String = row.try_get("agency_id")?;
    let level: String = row.try_get("level")?;
    let channels: String = row.try_get("channels")?;
    let languages: String = row.try_get("languages")?;
    let channels = channels
        .split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (kind, address) = line
                .split_once('\t')
                .ok_or_else(|| StoreError::corrupt("channel", line))?;
            Ok((
                ChannelKind::parse(kind)
                    .ok_or_else(|| StoreError::corrupt("channel kind", kind))?,
                address.to_owned(),
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(PointOfContact {
        id: ObjectId::parse(POC_PREFIX, &id).map_err(|_| StoreError::corrupt("poc id", &id))?,
        agency: AgencyId::parse(&agency).map_err(|_| StoreError::corrupt("agency", &agency))?,
        content: PocContent {
            level: ContactLevel::parse(&level)
                .ok_or_else(|| StoreError::corrupt("level", &level))?,
            function: row.try_get("function")?,
            channels,
            languages: languages
                .split('\n')
                .filter(|tag| !tag.is_empty())
                .map(str::to_owned)
                .collect(),
            hours: row.try_get("hours")?,
            around_the_clock: row.try_get("around_the_clock")?,
        },
        confirmed: Timestamp::from_micros(row.try_get("confirm_us")?),
    })
}

impl Store {
    /// Creates or replaces (and so confirms) a point of contact, announcing it, in one
    /// transaction. A repeated `request_id` changes nothing.
    pub async fn set_point_of_contact(
        &self,
        poc: &PointOfContact,
        change: PocChange<'_>,
    ) -> Result<WriteOutcome<()>, StoreError> {
        let actor = change.actor.to_string();
        let now = poc.confirmed;
        let content = &poc.content;
        let channels = content
            .channels
            .iter()
            .map(|(kind, address)| format!("{}\t{address}", kind.as_str()))
            .collect::<Vec<_>>()
            .join("\n");
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &actor, change.request_id, METHOD_SET);
            sqlx::query("DELETE FROM points_of_contact WHERE id = $1")
                .bind(poc.id.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO points_of_contact (id, agency_id, level, function, channels, languages, hours,
                    around_the_clock, confirm_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(poc.id.as_str())
            .bind(poc.agency.as_str())
            .bind(content.level.as_str())
            .bind(&content.function)
            .bind(&channels)
            .bind(content.languages.join("\n"))
            .bind(&content.hours)
            .bind(content.around_the_clock)
            .bind(now.as_micros())
            .execute(&mut *tx)
            .await?;
            let announcement = change.announcement;
            insert_notification!(tx, pool, announcement);
            record_request!(tx, &actor, change.request_id, METHOD_SET, poc.id.as_str(), now);
            let record = String::from_utf8_lossy(&change.audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", poc.id.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(WriteOutcome::Stored(()))
    }

    /// Removes a point of contact, announcing it, in one transaction.
    pub async fn delete_point_of_contact(
        &self,
        id: &ObjectId,
        change: PocChange<'_>,
    ) -> Result<WriteOutcome<()>, StoreError> {
        let actor = change.actor.to_string();
        let now = change.announcement.created;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write(&self.write_turn).await?;
            seen_request!(tx, &actor, change.request_id, METHOD_DELETE);
            sqlx::query("DELETE FROM points_of_contact WHERE id = $1")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            let announcement = change.announcement;
            insert_notification!(tx, pool, announcement);
            record_request!(tx, &actor, change.request_id, METHOD_DELETE, id.as_str(), now);
            let record = String::from_utf8_lossy(&change.audit_record).into_owned();
            crate::outbox::write_outbox!(tx, pool, crate::audit::TOPIC, "record", id.as_str(), now, Some(record));
            tx.commit().await?;
        });
        self.signals.outbox.notify_one();
        Ok(WriteOutcome::Stored(()))
    }

    /// One point of contact.
    pub async fn get_point_of_contact(
        &self,
        id: &ObjectId,
    ) -> Result<Option<PointOfContact>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM points_of_contact WHERE id = $1");
        with_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(pool).await?;
            row.as_ref().map(poc_from_row).transpose()
        })
    }

    /// Points of contact by agency and id, of one agency or all, after `offset`.
    pub async fn list_points_of_contact(
        &self,
        agency: Option<&AgencyId>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<PointOfContact>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM points_of_contact WHERE ($1 = '' OR agency_id = $1)
             ORDER BY agency_id, id LIMIT {limit} OFFSET $2"
        );
        with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(agency.map_or("", AgencyId::as_str))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?;
            rows.iter().map(poc_from_row).collect()
        })
    }
}
