//! Confidence-building measures end to end: notifications reach exactly their scope
//! (inbox and watch), acknowledgements are tracked and overdue ones escalated by the
//! hub's deadline clock (moved, never slept on), and TLP:RED reaches persons of the named
//! agencies but never a system.

use std::time::Duration;

use liaison_client::AuthChannel;
use liaison_proto::v1::{self, cbm_service_client::CbmServiceClient};
use liaison_testkit::{Backend, TestHub, both};
use tonic::{Code, Streaming};
use tonic_types::StatusExt;

use crate::support::{PATIENCE, all_members, named, unique};

both!(
    a_group_notification_reaches_exactly_its_members,
    acknowledgements_are_tracked_and_overdue_ones_escalated,
    red_notifications_reach_persons_of_named_agencies_never_systems,
    points_of_contact_are_kept_by_their_agency_and_announced,
    a_watch_ends_when_the_agency_is_suspended,
    a_communication_check_reports_the_silent_agency,
    replies_reach_their_audience,
    a_consultation_moves_through_its_states,
    scheduled_communication_checks_start_once_per_slot,
);

fn text(text: &str, language: &str) -> Option<v1::LocalizedText> {
    Some(v1::LocalizedText {
        text: text.to_owned(),
        language: language.to_owned(),
    })
}

fn group(id: &str) -> v1::Scope {
    v1::Scope {
        target: Some(v1::scope::Target::SharingGroupId(id.to_owned())),
    }
}

/// An incident notification in Ukrainian with `scope` and `tlp`.
fn incident(title: &str, scope: v1::Scope, tlp: v1::Tlp) -> v1::NotifyRequest {
    v1::NotifyRequest {
        request_id: format!("cbm-{}", unique()),
        notification: Some(v1::CbmNotification {
            kind: v1::CbmNotificationKind::Incident as i32,
            severity: v1::CbmSeverity::High as i32,
            title: text(title, "uk"),
            body: text(
                "Сторони підтвердили відданість Будапештській конвенції; виявлено атаку на \
                 диспетчерські системи енергетики.",
                "uk",
            ),
            affected_sectors: vec![v1::CbmSector::Energy as i32],
            tlp: tlp as i32,
            scope: Some(scope),
            ..v1::CbmNotification::default()
        }),
    }
}

async fn notify(
    client: &mut CbmServiceClient<AuthChannel>,
    request: v1::NotifyRequest,
) -> anyhow::Result<v1::CbmNotification> {
    client
        .notify(request)
        .await?
        .into_inner()
        .notification
        .ok_or_else(|| anyhow::anyhow!("no notification in the response"))
}

async fn get(
    client: &mut CbmServiceClient<AuthChannel>,
    id: &str,
) -> Result<v1::CbmNotification, tonic::Status> {
    Ok(client
        .get_notification(v1::GetNotificationRequest {
            notification_id: id.to_owned(),
        })
        .await?
        .into_inner()
        .notification
        .unwrap_or_default())
}

async fn inbox_ids(client: &mut CbmServiceClient<AuthChannel>) -> anyhow::Result<Vec<String>> {
    Ok(client
        .list_notifications(v1::ListNotificationsRequest {
            unacknowledged_first: true,
            ..v1::ListNotificationsRequest::default()
        })
        .await?
        .into_inner()
        .notifications
        .into_iter()
        .map(|notification| notification.id)
        .collect())
}

async fn watch(
    client: &mut CbmServiceClient<AuthChannel>,
) -> anyhow::Result<Streaming<v1::WatchInboxResponse>> {
    Ok(client
        .watch_inbox(v1::WatchInboxRequest::default())
        .await?
        .into_inner())
}

async fn next_event(
    stream: &mut Streaming<v1::WatchInboxResponse>,
) -> anyhow::Result<v1::CbmEvent> {
    let message = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .map_err(|_| anyhow::anyhow!("no event within {PATIENCE:?}"))??
        .ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
    message.event.ok_or_else(|| anyhow::anyhow!("empty event"))
}

fn received_id(event: &v1::CbmEvent) -> anyhow::Result<&str> {
    match &event.payload {
        Some(v1::cbm_event::Payload::Notification(notification)) => Ok(&notification.id),
        other => anyhow::bail!("expected a received notification, got {other:?}"),
    }
}

fn row<'a>(notification: &'a v1::CbmNotification, agency: &str) -> &'a v1::CbmAcknowledgement {
    notification
        .acknowledgements
        .iter()
        .find(|row| row.agency_id == agency)
        .unwrap_or_else(|| panic!("no row of {agency} in {notification:?}"))
}

fn ack(id: &str, status: v1::CbmAckStatus) -> v1::AcknowledgeNotificationRequest {
    v1::AcknowledgeNotificationRequest {
        request_id: format!("ack-{}", unique()),
        notification_id: id.to_owned(),
        status: status as i32,
        comment: text("Primljeno, hvala.", "sr-Latn"),
    }
}

async fn a_group_notification_reaches_exactly_its_members(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut sender = hub.client("UA-CERT", "officer").await?.cbm();
    let mut member = hub.client("EU-EEAS", "officer").await?.cbm();
    let mut member_feed = hub.client("EU-EEAS", "feed").await?.cbm();
    let mut outsider = hub.client("VN-BCA", "officer").await?.cbm();
    let mut member_watch = watch(&mut member).await?;
    let mut outsider_watch = watch(&mut outsider).await?;

    let sent = notify(
        &mut sender,
        incident(
            "Кібератака на енергосистему",
            group("eu-ukraine-cyber-dialogue"),
            v1::Tlp::Amber,
        ),
    )
    .await?;
    // The acknowledgement table names the group's members, never the sender.
    let mut recipients: Vec<_> = sent
        .acknowledgements
        .iter()
        .map(|row| row.agency_id.as_str())
        .collect();
    recipients.sort_unstable();
    assert_eq!(recipients, ["EU-EEAS", "EU-ENISA", "EU-EUROPOL"]);
    assert_eq!(
        sent.ack_summary.as_ref().map(|summary| summary.pending),
        Some(3)
    );

    // Members receive it: in the inbox, by id (their own row only) and on the watch.
    assert_eq!(
        inbox_ids(&mut member).await?,
        std::slice::from_ref(&sent.id)
    );
    assert_eq!(
        inbox_ids(&mut member_feed).await?,
        std::slice::from_ref(&sent.id)
    );
    let seen = get(&mut member, &sent.id).await?;
    assert_eq!(seen.acknowledgements.len(), 1, "{seen:?}");
    assert_eq!(seen.acknowledgements[0].agency_id, "EU-EEAS");
    assert!(seen.acknowledgements[0].deliver_time.is_some());
    assert!(seen.ack_summary.is_none(), "a recipient sees no summary");
    let event = next_event(&mut member_watch).await?;
    assert_eq!(event.kind, v1::CbmEventKind::NotificationReceived as i32);
    assert_eq!(received_id(&event)?, sent.id);
    let Some(v1::cbm_event::Payload::Notification(delivered)) = &event.payload else {
        anyhow::bail!("expected a notification");
    };
    assert!(delivered.acknowledgements[0].deliver_time.is_some());

    // The hub's oversight auditor reads the whole table.
    let mut oversight = hub.client("INT-HUB", "auditor").await?.cbm();
    assert_eq!(
        get(&mut oversight, &sent.id).await?.acknowledgements.len(),
        3
    );

    // Others get NOT_FOUND, as for an id that does not exist, and nothing in the inbox.
    let hidden = get(&mut outsider, &sent.id)
        .await
        .expect_err("an outsider read it");
    assert_eq!(hidden.code(), Code::NotFound, "{hidden:?}");
    let missing = get(&mut outsider, "cbm_01jz0000000000000000000000")
        .await
        .expect_err("a missing id was found");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(hidden.message(), missing.message());
    assert!(inbox_ids(&mut outsider).await?.is_empty());
    // The outsider's watch skips the group notification: its first event is the next one
    // that names it.
    let later = notify(
        &mut sender,
        incident("Оновлення", named(&["VN-BCA"]), v1::Tlp::Green),
    )
    .await?;
    let event = next_event(&mut outsider_watch).await?;
    assert_eq!(received_id(&event)?, later.id);

    // The sender's outbox holds both, with their whole tables.
    let outbox = sender
        .list_notifications(v1::ListNotificationsRequest {
            mailbox: v1::CbmMailbox::Outbox as i32,
            ..v1::ListNotificationsRequest::default()
        })
        .await?
        .into_inner()
        .notifications;
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[1].acknowledgements.len(), 3);
    hub.stop().await
}

async fn acknowledgements_are_tracked_and_overdue_ones_escalated(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut sender = hub.client("RS-MUP", "officer").await?.cbm();
    let mut prompt = hub.client("HU-NNI", "officer").await?.cbm();
    let mut late = hub.client("UA-CERT", "officer").await?.cbm();
    let mut sender_watch = watch(&mut sender).await?;
    let mut late_watch = watch(&mut late).await?;

    let mut request = incident(
        "Напад на банкарски систем",
        named(&["HU-NNI", "UA-CERT"]),
        v1::Tlp::Amber,
    );
    if let Some(notification) = request.notification.as_mut() {
        notification.title = text("Напад на банкарски систем", "sr-Cyrl");
        notification.ack_within = Some(prost_types::Duration {
            seconds: 24 * 3600,
            nanos: 0,
        });
    }
    let sent = notify(&mut sender, request.clone()).await?;
    // A retry with the same request_id returns the first notification and sends nothing.
    let again = notify(&mut sender, request).await?;
    assert_eq!(again.id, sent.id);
    assert!(row(&sent, "UA-CERT").due_time.is_some());
    assert!(!row(&sent, "UA-CERT").overdue);
    let event = next_event(&mut late_watch).await?;
    assert_eq!(received_id(&event)?, sent.id);

    // HU-NNI acknowledges receipt in time; the sender sees the change on its watch.
    let first_ack = ack(&sent.id, v1::CbmAckStatus::Received);
    let acknowledged = prompt
        .acknowledge_notification(first_ack.clone())
        .await?
        .into_inner()
        .acknowledgement
        .unwrap_or_default();
    assert_eq!(acknowledged.status, v1::CbmAckStatus::Received as i32);
    assert_eq!(
        acknowledged
            .acknowledged_by
            .as_ref()
            .map(|by| by.agency_id.as_str()),
        Some("HU-NNI")
    );
    let event = next_event(&mut sender_watch).await?;
    assert_eq!(event.kind, v1::CbmEventKind::AcknowledgementChanged as i32);
    match &event.payload {
        Some(v1::cbm_event::Payload::Acknowledgement(row)) => assert_eq!(row.agency_id, "HU-NNI"),
        other => anyhow::bail!("expected an acknowledgement, got {other:?}"),
    }
    prompt
        .acknowledge_notification(ack(&sent.id, v1::CbmAckStatus::Responded))
        .await?;
    // A retry of the first acknowledgement answers with the row as it is now.
    let retried = prompt
        .acknowledge_notification(first_ack)
        .await?
        .into_inner()
        .acknowledgement
        .unwrap_or_default();
    assert_eq!(retried.status, v1::CbmAckStatus::Responded as i32);
    let backwards = prompt
        .acknowledge_notification(ack(&sent.id, v1::CbmAckStatus::Received))
        .await
        .expect_err("an acknowledgement went back");
    assert_eq!(backwards.code(), Code::FailedPrecondition, "{backwards:?}");
    // The sender is not a recipient; PENDING is not an acknowledgement.
    let not_recipient = sender
        .acknowledge_notification(ack(&sent.id, v1::CbmAckStatus::Received))
        .await
        .expect_err("the sender acknowledged its own notification");
    assert_eq!(not_recipient.code(), Code::FailedPrecondition);
    let pending = prompt
        .acknowledge_notification(ack(&sent.id, v1::CbmAckStatus::Pending))
        .await
        .expect_err("PENDING was accepted");
    assert_eq!(pending.code(), Code::InvalidArgument);

    // Nothing is overdue before the deadline.
    let table = get(&mut sender, &sent.id).await?;
    assert_eq!(
        table.ack_summary.as_ref().map(|summary| summary.overdue),
        Some(0)
    );
    assert_eq!(inbox_ids(&mut late).await?, std::slice::from_ref(&sent.id));

    // UA-CERT's point of contact is the one the escalation alerts.
    let contact_id = hub
        .client("UA-CERT", "officer")
        .await?
        .directory()
        .set_point_of_contact(v1::SetPointOfContactRequest {
            request_id: format!("poc-{}", unique()),
            point_of_contact: Some(contact("Черговий CERT-UA 24/7")),
        })
        .await?
        .into_inner()
        .point_of_contact
        .unwrap_or_default()
        .id;

    // A day and an hour later, UA-CERT's acknowledgement is overdue: escalated to it and
    // to the sender.
    hub.clock().advance(Duration::from_secs(25 * 3600));
    let mut escalations = Vec::new();
    while escalations.is_empty() {
        let event = next_event(&mut sender_watch).await?;
        if let Some(v1::cbm_event::Payload::Escalation(escalation)) = event.payload {
            escalations.push(escalation);
        }
    }
    assert_eq!(escalations[0].notification_id, sent.id);
    assert_eq!(escalations[0].agency_id, "UA-CERT");
    assert_eq!(escalations[0].point_of_contact_ids, [contact_id]);
    assert!(escalations[0].escalate_time.is_some());
    let event = next_event(&mut late_watch).await?;
    assert_eq!(event.kind, v1::CbmEventKind::Escalation as i32, "{event:?}");

    let table = get(&mut sender, &sent.id).await?;
    let summary = table.ack_summary.unwrap_or_default();
    assert_eq!(
        (
            summary.recipients,
            summary.pending,
            summary.responded,
            summary.overdue
        ),
        (2, 1, 1, 1)
    );
    assert!(row(&table, "UA-CERT").overdue);
    assert!(row(&table, "UA-CERT").escalate_time.is_some());
    assert!(!row(&table, "HU-NNI").overdue);
    assert!(row(&table, "HU-NNI").escalate_time.is_none());

    // A late acknowledgement is recorded and stays marked overdue.
    let late_ack = late
        .acknowledge_notification(ack(&sent.id, v1::CbmAckStatus::Received))
        .await?
        .into_inner()
        .acknowledgement
        .unwrap_or_default();
    assert_eq!(late_ack.status, v1::CbmAckStatus::Received as i32);
    assert!(late_ack.overdue);
    let unacknowledged = late
        .list_notifications(v1::ListNotificationsRequest {
            unacknowledged_only: true,
            ..v1::ListNotificationsRequest::default()
        })
        .await?
        .into_inner()
        .notifications;
    assert!(unacknowledged.is_empty(), "{unacknowledged:?}");
    hub.stop().await
}

async fn red_notifications_reach_persons_of_named_agencies_never_systems(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut sender = hub.client("UA-CERT", "officer").await?.cbm();
    let mut person = hub.client("EU-EUROPOL", "officer").await?.cbm();
    let mut system = hub.client("EU-EUROPOL", "feed").await?.cbm();
    let mut unnamed = hub.client("EU-ENISA", "officer").await?.cbm();
    let mut system_watch = watch(&mut system).await?;

    // RED must name agencies; systems may not send at all.
    let refused = sender
        .notify(incident("Червоний", all_members(), v1::Tlp::Red))
        .await
        .expect_err("RED to all members was accepted");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let by_system = system
        .notify(incident("Від системи", named(&["UA-CERT"]), v1::Tlp::Green))
        .await
        .expect_err("a system sent a notification");
    assert_eq!(by_system.code(), Code::PermissionDenied);

    let red = notify(
        &mut sender,
        incident("Tấn công mạng", named(&["EU-EUROPOL"]), v1::Tlp::Red),
    )
    .await?;
    assert_eq!(get(&mut person, &red.id).await?.id, red.id);
    assert_eq!(inbox_ids(&mut person).await?, std::slice::from_ref(&red.id));
    for (who, client) in [("system", &mut system), ("unnamed agency", &mut unnamed)] {
        let hidden = get(client, &red.id).await.expect_err(who);
        assert_eq!(hidden.code(), Code::NotFound, "{who}: {hidden:?}");
        assert!(inbox_ids(client).await?.is_empty(), "{who}");
    }
    // The system's watch skips the RED notification and delivers the next GREEN one.
    let green = notify(
        &mut sender,
        incident("Zaļš", named(&["EU-EUROPOL"]), v1::Tlp::Green),
    )
    .await?;
    let event = next_event(&mut system_watch).await?;
    assert_eq!(received_id(&event)?, green.id);
    hub.stop().await
}

fn contact(function: &str) -> v1::PointOfContact {
    v1::PointOfContact {
        level: v1::point_of_contact::Level::Technical as i32,
        function: function.to_owned(),
        channels: vec![v1::ContactChannel {
            kind: v1::contact_channel::Kind::Phone as i32,
            address: "+381 11 306 2000".into(),
        }],
        languages: vec!["sr-Cyrl".into(), "en".into()],
        around_the_clock: true,
        ..v1::PointOfContact::default()
    }
}

async fn points_of_contact_are_kept_by_their_agency_and_announced(
    backend: Backend,
) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let owner_client = hub.client("RS-MUP", "officer").await?;
    let mut owner = owner_client.directory();
    let mut reader = hub.client("HU-NNI", "feed").await?.directory();
    let other_officer = hub.client("HU-NNI", "officer").await?;
    let set = |poc: v1::PointOfContact| v1::SetPointOfContactRequest {
        request_id: format!("poc-{}", unique()),
        point_of_contact: Some(poc),
    };
    let list = |agency: &str| v1::ListPointsOfContactRequest {
        agency_id: agency.to_owned(),
        ..v1::ListPointsOfContactRequest::default()
    };

    let created = owner
        .set_point_of_contact(set(contact("Дежурни официр 24/7, Одељење за ВТК")))
        .await?
        .into_inner()
        .point_of_contact
        .unwrap_or_default();
    assert!(created.id.starts_with("poc_"), "{created:?}");
    assert_eq!(created.agency_id, "RS-MUP");
    assert!(!created.stale);

    // Every member reads it; the change was announced to every member.
    let listed = reader
        .list_points_of_contact(list("RS-MUP"))
        .await?
        .into_inner();
    assert_eq!(listed.points_of_contact.len(), 1);
    assert_eq!(listed.points_of_contact[0].id, created.id);
    let inbox = other_officer
        .cbm()
        .list_notifications(v1::ListNotificationsRequest::default())
        .await?
        .into_inner()
        .notifications;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0].kind, v1::CbmNotificationKind::PocUpdate as i32);
    assert_eq!(inbox[0].point_of_contact_id, created.id);
    assert_eq!(inbox[0].sender_agency_id, "RS-MUP");

    // Only the agency's own officers keep it; systems may not at all.
    let mut foreign = created.clone();
    foreign.function = "Підміна".into();
    let denied = other_officer
        .directory()
        .set_point_of_contact(set(foreign))
        .await
        .expect_err("another agency changed a contact");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    let mut feed = hub.client("RS-MUP", "feed").await?.directory();
    let by_system = feed
        .set_point_of_contact(set(contact("Sistem")))
        .await
        .expect_err("a system set a contact");
    assert_eq!(by_system.code(), Code::PermissionDenied);
    let invalid = owner
        .set_point_of_contact(set(v1::PointOfContact::default()))
        .await
        .expect_err("an empty contact was accepted");
    assert_eq!(invalid.code(), Code::InvalidArgument);

    // A year without confirmation makes it stale; setting it again confirms it.
    hub.clock().advance(Duration::from_secs(366 * 86_400));
    let listed = reader.list_points_of_contact(list("")).await?.into_inner();
    assert!(listed.points_of_contact[0].stale, "{listed:?}");
    let confirmed = owner
        .set_point_of_contact(set(created.clone()))
        .await?
        .into_inner()
        .point_of_contact
        .unwrap_or_default();
    assert_eq!(confirmed.id, created.id);
    assert!(!confirmed.stale);

    owner
        .delete_point_of_contact(v1::DeletePointOfContactRequest {
            request_id: format!("poc-{}", unique()),
            point_of_contact_id: created.id.clone(),
        })
        .await?;
    let listed = reader
        .list_points_of_contact(list("RS-MUP"))
        .await?
        .into_inner();
    assert!(listed.points_of_contact.is_empty());
    let announcements = other_officer
        .cbm()
        .list_notifications(v1::ListNotificationsRequest::default())
        .await?
        .into_inner()
        .notifications;
    assert_eq!(announcements.len(), 3, "added, confirmed, removed");
    hub.stop().await
}

async fn a_watch_ends_when_the_agency_is_suspended(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut watched = hub.client("UA-CERT", "feed").await?.cbm();
    let mut stream = watch(&mut watched).await?;
    let mut operator = hub.client("INT-HUB", "operator").await?.directory();
    operator
        .suspend_agency(v1::SuspendAgencyRequest {
            request_id: "suspend-ua".into(),
            agency_id: "UA-CERT".into(),
            reason: "Компрометований сервер інтеграції".into(),
        })
        .await?;
    let ended = tokio::time::timeout(PATIENCE, stream.message())
        .await
        .map_err(|_| anyhow::anyhow!("the watch stayed open"))?;
    let status = ended.expect_err("the watch ended without an error");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    hub.stop().await
}

async fn a_communication_check_reports_the_silent_agency(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut operator = hub.client("INT-HUB", "operator").await?.cbm();
    let mut prompt = hub.client("RS-MUP", "officer").await?.cbm();
    let mut late = hub.client("HU-NNI", "officer").await?.cbm();
    // Only the check's events: the points of contact set below are announced too.
    let mut prompt_watch = prompt
        .watch_inbox(v1::WatchInboxRequest {
            kinds: vec![
                v1::CbmEventKind::CheckStarted as i32,
                v1::CbmEventKind::CheckUpdated as i32,
            ],
            ..v1::WatchInboxRequest::default()
        })
        .await?
        .into_inner();
    let mut feed = hub.client("RS-MUP", "feed").await?.cbm();
    let mut feed_watch = watch(&mut feed).await?;

    // Members may not start checks.
    let denied = prompt
        .start_communication_check(v1::StartCommunicationCheckRequest::default())
        .await
        .expect_err("a member started a check");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let started = operator
        .start_communication_check(v1::StartCommunicationCheckRequest {
            request_id: format!("chk-{}", unique()),
            scope: Some(named(&["RS-MUP", "HU-NNI", "ME-UP"])),
            contact_level: v1::CbmContactLevel::Technical as i32,
            response_window: Some(prost_types::Duration {
                seconds: 3600,
                nanos: 0,
            }),
            message: text("Провера везе: потврдите да сте доступни.", "sr-Cyrl"),
        })
        .await?
        .into_inner()
        .communication_check
        .unwrap_or_default();
    assert_eq!(started.state, v1::CbmCheckState::Open as i32);
    assert_eq!(started.summary.map(|summary| summary.pending), Some(3));

    // The checked agency's person learns of it with the challenge; its system without.
    let event = next_event(&mut prompt_watch).await?;
    let Some(v1::cbm_event::Payload::CommunicationCheck(shown)) = event.payload else {
        anyhow::bail!("expected a check, got {event:?}");
    };
    assert_eq!(shown.id, started.id);
    assert_eq!(shown.challenge, started.challenge);
    let event = next_event(&mut feed_watch).await?;
    let Some(v1::cbm_event::Payload::CommunicationCheck(to_system)) = event.payload else {
        anyhow::bail!("expected a check, got {event:?}");
    };
    assert!(to_system.challenge.is_empty());

    // The check addresses technical points of contact: each answer names one of its
    // agency's. RS-MUP has a policy one too.
    let poc = |agency: &str, level: v1::point_of_contact::Level| {
        let agency = agency.to_owned();
        let hub = &hub;
        async move {
            let mut poc = contact("Дежурни официр 24/7");
            poc.level = level as i32;
            anyhow::Ok(
                hub.client(&agency, "officer")
                    .await?
                    .directory()
                    .set_point_of_contact(v1::SetPointOfContactRequest {
                        request_id: format!("poc-{}", unique()),
                        point_of_contact: Some(poc),
                    })
                    .await?
                    .into_inner()
                    .point_of_contact
                    .unwrap_or_default()
                    .id,
            )
        }
    };
    let rs_technical = poc("RS-MUP", v1::point_of_contact::Level::Technical).await?;
    let rs_policy = poc("RS-MUP", v1::point_of_contact::Level::Policy).await?;
    let hu_technical = poc("HU-NNI", v1::point_of_contact::Level::Technical).await?;
    let respond = |challenge: &str, poc: &str| v1::RespondToCommunicationCheckRequest {
        request_id: format!("answer-{}", unique()),
        check_id: started.id.clone(),
        challenge: challenge.to_owned(),
        point_of_contact_id: poc.to_owned(),
        comment: text("Dostupni smo.", "sr-Latn"),
    };
    for (poc, what) in [
        ("", "no point of contact"),
        (rs_policy.as_str(), "a policy point of contact"),
        (hu_technical.as_str(), "another agency's point of contact"),
    ] {
        let refused = prompt
            .respond_to_communication_check(respond(&started.challenge, poc))
            .await
            .expect_err(what);
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}: {refused:?}");
        let fields: Vec<String> = refused
            .get_details_bad_request()
            .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["point_of_contact_id"], "{what}");
    }
    let answered = prompt
        .respond_to_communication_check(respond(&started.challenge, &rs_technical))
        .await?
        .into_inner()
        .result
        .unwrap_or_default();
    assert_eq!(answered.outcome, v1::CbmCheckOutcome::Answered as i32);
    let wrong = late
        .respond_to_communication_check(respond("WRONG1", &hu_technical))
        .await
        .expect_err("a wrong challenge was accepted");
    assert_eq!(wrong.code(), Code::InvalidArgument);
    let outsider = hub
        .client("VN-BCA", "officer")
        .await?
        .cbm()
        .respond_to_communication_check(respond(&started.challenge, ""))
        .await
        .expect_err("an agency not checked answered");
    assert_eq!(outsider.code(), Code::NotFound);

    // Two hours later HU-NNI answers late and ME-UP has not answered at all. The checked
    // agencies learn that the window closed.
    hub.clock().advance(Duration::from_secs(2 * 3600));
    let event = next_event(&mut prompt_watch).await?;
    assert_eq!(
        event.kind,
        v1::CbmEventKind::CheckUpdated as i32,
        "{event:?}"
    );
    let Some(v1::cbm_event::Payload::CommunicationCheck(closed)) = event.payload else {
        anyhow::bail!("expected a check, got {event:?}");
    };
    assert_eq!(closed.state, v1::CbmCheckState::Closed as i32);
    let late_answer = late
        .respond_to_communication_check(respond(&started.challenge, &hu_technical))
        .await?
        .into_inner()
        .result
        .unwrap_or_default();
    assert_eq!(late_answer.outcome, v1::CbmCheckOutcome::Late as i32);
    let report = operator
        .get_communication_check_report(v1::GetCommunicationCheckReportRequest {
            check_id: started.id.clone(),
        })
        .await?
        .into_inner();
    let outcomes: Vec<_> = report
        .results
        .iter()
        .map(|result| (result.agency_id.as_str(), result.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("HU-NNI", v1::CbmCheckOutcome::Late as i32),
            ("ME-UP", v1::CbmCheckOutcome::NoAnswer as i32),
            ("RS-MUP", v1::CbmCheckOutcome::Answered as i32),
        ]
    );
    let check = report.communication_check.unwrap_or_default();
    assert_eq!(check.state, v1::CbmCheckState::Closed as i32);
    let summary = check.summary.unwrap_or_default();
    assert_eq!(
        (
            summary.answered,
            summary.late,
            summary.no_answer,
            summary.pending
        ),
        (1, 1, 1, 0)
    );
    assert!(report.results[2].response_time.is_some());
    assert!(report.results[1].response_time.is_none());

    // ME-UP's record over time, and the list of checks.
    let history = operator
        .list_communication_check_results(v1::ListCommunicationCheckResultsRequest {
            agency_id: "ME-UP".into(),
            ..v1::ListCommunicationCheckResultsRequest::default()
        })
        .await?
        .into_inner()
        .results;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, v1::CbmCheckOutcome::NoAnswer as i32);
    let checks = operator
        .list_communication_checks(v1::ListCommunicationChecksRequest::default())
        .await?
        .into_inner()
        .communication_checks;
    assert_eq!(checks.len(), 1);
    hub.stop().await
}

async fn replies_reach_their_audience(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut sender = hub.client("RS-MUP", "officer").await?.cbm();
    let mut replier = hub.client("HU-NNI", "officer").await?.cbm();
    let mut other = hub.client("UA-CERT", "officer").await?.cbm();
    let mut sender_watch = watch(&mut sender).await?;
    let sent = notify(
        &mut sender,
        incident(
            "Вежба „Сигурна веза 2026”",
            named(&["HU-NNI", "UA-CERT"]),
            v1::Tlp::Green,
        ),
    )
    .await?;
    let reply = |body: &str, in_reply_to: &str, tlp: v1::Tlp| v1::PostReplyRequest {
        request_id: format!("reply-{}", unique()),
        parent: Some(v1::post_reply_request::Parent::NotificationId(
            sent.id.clone(),
        )),
        body: text(body, "hu"),
        in_reply_to_id: in_reply_to.to_owned(),
        tlp: tlp as i32,
        ..v1::PostReplyRequest::default()
    };
    let list = |client: &mut CbmServiceClient<AuthChannel>| {
        let mut client = client.clone();
        let id = sent.id.clone();
        async move {
            anyhow::Ok(
                client
                    .list_replies(v1::ListRepliesRequest {
                        parent: Some(v1::list_replies_request::Parent::NotificationId(id)),
                        ..v1::ListRepliesRequest::default()
                    })
                    .await?
                    .into_inner()
                    .replies
                    .into_iter()
                    .map(|reply| reply.id)
                    .collect::<Vec<_>>(),
            )
        }
    };

    // A recipient's reply goes to the sender only (the default audience).
    let private = replier
        .post_reply(reply(
            "Részt veszünk a gyakorlaton.",
            "",
            v1::Tlp::Unspecified,
        ))
        .await?
        .into_inner()
        .reply
        .unwrap_or_default();
    assert_eq!(private.audience, v1::CbmReplyAudience::Sender as i32);
    assert_eq!(private.tlp, v1::Tlp::Green as i32);
    assert_eq!(list(&mut sender).await?, std::slice::from_ref(&private.id));
    assert_eq!(list(&mut replier).await?, std::slice::from_ref(&private.id));
    assert!(list(&mut other).await?.is_empty());
    loop {
        let event = next_event(&mut sender_watch).await?;
        if let Some(v1::cbm_event::Payload::Reply(posted)) = event.payload {
            assert_eq!(posted.id, private.id);
            break;
        }
    }

    // The sender's answer goes to every recipient.
    let public = sender
        .post_reply(reply("Hvala, vidimo se.", &private.id, v1::Tlp::Amber))
        .await?
        .into_inner()
        .reply
        .unwrap_or_default();
    assert_eq!(public.audience, v1::CbmReplyAudience::AllRecipients as i32);
    assert_eq!(list(&mut other).await?, std::slice::from_ref(&public.id));

    // Never less restricted than the notification; never by an outsider.
    let looser = replier
        .post_reply(reply("Nyilvános", "", v1::Tlp::Clear))
        .await
        .expect_err("a reply less restricted than its notification");
    assert_eq!(looser.code(), Code::InvalidArgument);
    let outsider = hub
        .client("VN-BCA", "officer")
        .await?
        .cbm()
        .post_reply(reply("Xin chào", "", v1::Tlp::Unspecified))
        .await
        .expect_err("an outsider replied");
    assert_eq!(outsider.code(), Code::NotFound);
    hub.stop().await
}

async fn a_consultation_moves_through_its_states(backend: Backend) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut requester = hub.client("RS-MUP", "officer").await?.cbm();
    let mut invited = hub.client("HU-NNI", "officer").await?.cbm();
    let mut outsider = hub.client("UA-CERT", "officer").await?.cbm();
    let mut invited_watch = watch(&mut invited).await?;
    let requested = requester
        .request_consultation(v1::RequestConsultationRequest {
            request_id: format!("cns-{}", unique()),
            agency_ids: vec!["HU-NNI".into()],
            subject: text("Нејасноће око извора DDoS напада", "sr-Cyrl"),
            description: text(
                "Тражимо појашњење о саобраћају са адреса у вашој мрежи.",
                "sr-Cyrl",
            ),
            tlp: v1::Tlp::Amber as i32,
            ..v1::RequestConsultationRequest::default()
        })
        .await?
        .into_inner();
    let consultation = requested.consultation.unwrap_or_default();
    let id = consultation.id.clone();
    assert_eq!(
        consultation.state,
        v1::CbmConsultationState::Requested as i32
    );
    let notification = requested.notification.unwrap_or_default();
    assert_eq!(
        notification.kind,
        v1::CbmNotificationKind::ConsultationRequest as i32
    );
    assert_eq!(
        row(&notification, "HU-NNI").status,
        v1::CbmAckStatus::Pending as i32
    );
    assert_eq!(notification.consultation_id, id);
    assert_eq!(
        inbox_ids(&mut invited).await?,
        std::slice::from_ref(&notification.id)
    );
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        kinds.push(next_event(&mut invited_watch).await?.kind);
    }
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            v1::CbmEventKind::NotificationReceived as i32,
            v1::CbmEventKind::ConsultationChanged as i32
        ]
    );

    let state = |consultation: Option<v1::CbmConsultation>| {
        consultation
            .map(|consultation| consultation.state)
            .unwrap_or_default()
    };
    let now = hub.clock().now().as_micros() / 1_000_000;
    let schedule = |seconds: i64| v1::ScheduleConsultationRequest {
        request_id: format!("cns-{}", unique()),
        consultation_id: id.clone(),
        schedule_time: Some(prost_types::Timestamp { seconds, nanos: 0 }),
        venue: text("Videokonferencija, kanal 24/7", "sr-Latn"),
        ..v1::ScheduleConsultationRequest::default()
    };
    let early = requester
        .schedule_consultation(schedule(now + 86_400))
        .await
        .expect_err("scheduled before any acknowledgement");
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    let own = requester
        .acknowledge_consultation(v1::AcknowledgeConsultationRequest {
            request_id: format!("cns-{}", unique()),
            consultation_id: id.clone(),
            comment: None,
        })
        .await
        .expect_err("the requester acknowledged its own request");
    assert_eq!(own.code(), Code::FailedPrecondition);
    let acknowledged = invited
        .acknowledge_consultation(v1::AcknowledgeConsultationRequest {
            request_id: format!("cns-{}", unique()),
            consultation_id: id.clone(),
            comment: text("Spremni smo za konsultacije.", "sr-Latn"),
        })
        .await?
        .into_inner()
        .consultation;
    assert_eq!(
        state(acknowledged),
        v1::CbmConsultationState::Acknowledged as i32
    );
    let past = requester
        .schedule_consultation(schedule(now - 60))
        .await
        .expect_err("scheduled in the past");
    assert_eq!(past.code(), Code::InvalidArgument);
    let scheduled = requester
        .schedule_consultation(schedule(now + 2 * 86_400))
        .await?;
    assert_eq!(
        state(scheduled.into_inner().consultation),
        v1::CbmConsultationState::Scheduled as i32
    );
    let held = invited
        .record_consultation_held(v1::RecordConsultationHeldRequest {
            request_id: format!("cns-{}", unique()),
            consultation_id: id.clone(),
            attending_agency_ids: vec!["RS-MUP".into(), "HU-NNI".into()],
            summary: text("A forgalom egy feltört szerverről érkezett.", "hu"),
            ..v1::RecordConsultationHeldRequest::default()
        })
        .await?
        .into_inner()
        .consultation
        .unwrap_or_default();
    assert_eq!(held.state, v1::CbmConsultationState::Held as i32);
    assert!(
        held.participants
            .iter()
            .all(|participant| participant.attended)
    );
    // The thread: every participant reads it, nobody else.
    let posted = invited
        .post_reply(v1::PostReplyRequest {
            request_id: format!("cns-{}", unique()),
            parent: Some(v1::post_reply_request::Parent::ConsultationId(id.clone())),
            body: text("Köszönjük, a jegyzőkönyvet csatoljuk.", "hu"),
            ..v1::PostReplyRequest::default()
        })
        .await?
        .into_inner()
        .reply
        .unwrap_or_default();
    assert_eq!(posted.audience, v1::CbmReplyAudience::Participants as i32);
    assert_eq!(posted.tlp, v1::Tlp::Amber as i32);
    let thread = |id: &str| v1::ListRepliesRequest {
        parent: Some(v1::list_replies_request::Parent::ConsultationId(
            id.to_owned(),
        )),
        ..v1::ListRepliesRequest::default()
    };
    let replies = requester
        .list_replies(thread(&id))
        .await?
        .into_inner()
        .replies;
    // The acknowledgement's comment opened the thread.
    assert_eq!(replies.len(), 2);
    assert_eq!(
        replies[0].body.as_ref().map(|body| body.text.as_str()),
        Some("Spremni smo za konsultacije.")
    );
    assert_eq!(replies[1].id, posted.id);
    let hidden_thread = outsider
        .list_replies(thread(&id))
        .await
        .expect_err("an outsider read the thread");
    assert_eq!(hidden_thread.code(), Code::NotFound);
    let close = v1::CloseConsultationRequest {
        request_id: format!("cns-{}", unique()),
        consultation_id: id.clone(),
        outcome: v1::CbmConsultationOutcome::Resolved as i32,
        summary: None,
    };
    let closed = requester
        .close_consultation(close.clone())
        .await?
        .into_inner()
        .consultation;
    assert_eq!(state(closed), v1::CbmConsultationState::Closed as i32);
    // A retry of the same close answers with the closed consultation and changes nothing.
    let retried = requester
        .close_consultation(close.clone())
        .await?
        .into_inner()
        .consultation;
    assert_eq!(state(retried), v1::CbmConsultationState::Closed as i32);
    let again = requester
        .close_consultation(v1::CloseConsultationRequest {
            request_id: format!("cns-{}", unique()),
            ..close
        })
        .await
        .expect_err("closed twice");
    assert_eq!(again.code(), Code::FailedPrecondition);

    // Only participants see it.
    let hidden = outsider
        .get_consultation(v1::GetConsultationRequest {
            consultation_id: id.clone(),
        })
        .await
        .expect_err("an outsider read a consultation");
    assert_eq!(hidden.code(), Code::NotFound);
    let listed = invited
        .list_consultations(v1::ListConsultationsRequest::default())
        .await?
        .into_inner()
        .consultations;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].outcome,
        v1::CbmConsultationOutcome::Resolved as i32
    );
    assert!(
        outsider
            .list_consultations(v1::ListConsultationsRequest::default())
            .await?
            .into_inner()
            .consultations
            .is_empty()
    );
    hub.stop().await
}

async fn scheduled_communication_checks_start_once_per_slot(
    backend: liaison_testkit::Backend,
) -> anyhow::Result<()> {
    let week = std::time::Duration::from_secs(7 * 86_400);
    let schedule = liaison_cbm::CheckSchedule {
        every: week,
        window: std::time::Duration::from_secs(86_400),
    };
    let hub = liaison_testkit::TestHub::start(backend).await?;
    let hub = hub
        .restart_with(|config| config.check_schedule = Some(schedule))
        .await?;
    let mut operator = hub.client("INT-HUB", "operator").await?.cbm();
    let count = |response: liaison_proto::v1::ListCommunicationChecksResponse| {
        response.communication_checks.len()
    };
    // The current slot's check starts at once; the next when the clock reaches its slot.
    // A started check sequences a stream event: wait for those, not for time to pass.
    let mut high_water = hub.store().watch_high_water();
    for expected in [1, 2] {
        let found = tokio::time::timeout(crate::support::PATIENCE, async {
            loop {
                let listed = operator
                    .list_communication_checks(
                        liaison_proto::v1::ListCommunicationChecksRequest::default(),
                    )
                    .await?
                    .into_inner();
                if count(listed.clone()) >= expected {
                    return anyhow::Ok(listed);
                }
                high_water.changed().await?;
            }
        })
        .await
        .map_err(|_| anyhow::anyhow!("no scheduled check number {expected}"))??;
        assert_eq!(count(found.clone()), expected);
        assert!(
            found.communication_checks[0].started_by.is_none(),
            "a scheduled check names no operator"
        );
        hub.clock().advance(week);
    }
    // Starting a slot's check again (a restart, another replica) starts nothing.
    let now = hub.clock().now();
    let every = i64::try_from(week.as_micros())?;
    let slot = now.as_micros().div_euclid(every) * every - every;
    assert!(!liaison_cbm::start_scheduled_check(hub.store(), schedule, slot, now).await?);
    hub.stop().await
}
