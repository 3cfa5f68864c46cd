//! Visibility as a property. Random sets of indicators — any publisher, scope (all members,
//! a sharing group, named agencies), TLP, anonymity, and values shared between them — are
//! published on a real hub, sightings are reported, and then every principal's view is
//! compared with a model written here independently of the hub's code: what Subscribe
//! delivers, GetIndicator, ListIndicators, Lookup (counts, fraud methods, sightings),
//! correlation events, the sharing groups' member lists, and each agency auditor's view of
//! the audit log. Whoever may not see an item must learn nothing derived from it (MISP leaked correlations across sharing groups so,
//! MISP PR #5802).
//!
//! The cases come from proptest's runner with a fresh seed each run (`PROPTEST_RNG_SEED`
//! fixes one), so every run tries new ones; a failure prints the case.

use std::collections::{BTreeMap, BTreeSet};

use liaison_client::Client;
use liaison_proto::v1;
use liaison_testkit::{Backend, TestHub, both};
use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use tonic::{Code, Streaming};

use crate::support::{PATIENCE, all_members, named, purposeful};

both!(whoever_may_not_see_an_item_learns_nothing_of_it);

/// Cases per database; each starts its own hub.
const CASES: usize = 6;

/// The agencies of the model. Their sharing groups, as far as these agencies go, are in
/// [`GROUPS`] (from `deploy/federation.example.toml`).
const AGENCIES: [&str; 6] = [
    "UA-CERT", "RS-MUP", "VN-BCA", "EU-EEAS", "EU-ENISA", "NL-NCSC",
];

const GROUPS: [(&str, &[&str]); 3] = [
    ("belgrade-declaration", &["RS-MUP", "EU-ENISA"]),
    (
        "eu-ukraine-cyber-dialogue",
        &["UA-CERT", "EU-EEAS", "EU-ENISA"],
    ),
    (
        "eu-vietnam-cyber-dialogue",
        &["VN-BCA", "NL-NCSC", "EU-EEAS"],
    ),
];

/// A principal: its agency, its name, and whether it is a person (else a system feed).
#[derive(Debug, Clone, Copy)]
struct Who {
    agency: &'static str,
    name: &'static str,
    person: bool,
}

const PRINCIPALS: [Who; 7] = [
    Who {
        agency: "UA-CERT",
        name: "officer",
        person: true,
    },
    Who {
        agency: "UA-CERT",
        name: "feed",
        person: false,
    },
    Who {
        agency: "RS-MUP",
        name: "officer",
        person: true,
    },
    Who {
        agency: "VN-BCA",
        name: "officer",
        person: true,
    },
    Who {
        agency: "EU-EEAS",
        name: "officer",
        person: true,
    },
    Who {
        agency: "EU-ENISA",
        name: "feed",
        person: false,
    },
    Who {
        agency: "NL-NCSC",
        name: "feed",
        person: false,
    },
];

/// Values several items may share, so that correlations and lookups have work to do: a
/// Cyrillic, a Vietnamese and a Latvian domain.
const SHARED: [&str; 3] = [
    "безбедност-банке.example",
    "hỗ-trợ-ngân-hàng.example",
    "drošības-pārbaude.example",
];

const TLPS: [v1::Tlp; 5] = [
    v1::Tlp::Clear,
    v1::Tlp::Green,
    v1::Tlp::Amber,
    v1::Tlp::AmberStrict,
    v1::Tlp::Red,
];

#[derive(Debug, Clone)]
enum ScopeSpec {
    All,
    Group(usize),
    Named(BTreeSet<usize>),
}

#[derive(Debug, Clone)]
struct ItemSpec {
    publisher: usize,
    scope: ScopeSpec,
    tlp: usize,
    anonymous: bool,
    shared: usize,
    /// A fraud method holding the value, or the value published on its own.
    method: bool,
}

#[derive(Debug, Clone)]
struct Case {
    items: Vec<ItemSpec>,
    /// (principal, shared value) pairs that report a sighting.
    sightings: Vec<(usize, usize)>,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    let scope = prop_oneof![
        Just(ScopeSpec::All),
        (0..GROUPS.len()).prop_map(ScopeSpec::Group),
        prop::collection::btree_set(0..AGENCIES.len(), 1..3).prop_map(ScopeSpec::Named),
    ];
    let item = (
        0..PRINCIPALS.len(),
        scope,
        0..TLPS.len(),
        any::<bool>(),
        0..SHARED.len(),
        any::<bool>(),
    )
        .prop_map(
            |(publisher, scope, tlp, anonymous, shared, method)| ItemSpec {
                publisher,
                scope,
                tlp,
                anonymous,
                shared,
                method,
            },
        );
    (
        prop::collection::vec(item, 6..14),
        prop::collection::vec((0..PRINCIPALS.len(), 0..SHARED.len()), 0..5),
    )
        .prop_map(|(items, sightings)| Case { items, sightings })
}

// ---- The model -------------------------------------------------------------------------

fn is_red(item: &ItemSpec) -> bool {
    TLPS[item.tlp] == v1::Tlp::Red
}

fn owner(item: &ItemSpec) -> &'static str {
    PRINCIPALS[item.publisher].agency
}

fn member(group: usize, agency: &str) -> bool {
    GROUPS[group].1.contains(&agency)
}

/// Why the publisher may not publish it, if it may not: TLP:RED must be scoped to named
/// agencies (a malformed request), and may be published by persons only; a sharing group
/// only by its members.
fn refusal(item: &ItemSpec) -> Option<Code> {
    let publisher = PRINCIPALS[item.publisher];
    match &item.scope {
        ScopeSpec::All | ScopeSpec::Group(_) if is_red(item) => Some(Code::InvalidArgument),
        _ if is_red(item) && !publisher.person => Some(Code::PermissionDenied),
        ScopeSpec::Group(group) if !member(*group, publisher.agency) => {
            Some(Code::PermissionDenied)
        }
        _ => None,
    }
}

/// May the persons of `agency` receive the item?
fn agency_sees(agency: &str, item: &ItemSpec) -> bool {
    if owner(item) == agency {
        return true;
    }
    match &item.scope {
        ScopeSpec::All => !is_red(item),
        ScopeSpec::Group(group) => !is_red(item) && member(*group, agency),
        ScopeSpec::Named(agencies) => agencies.iter().any(|&a| AGENCIES[a] == agency),
    }
}

/// May this principal receive the item? TLP:RED never reaches a system feed.
fn sees(who: Who, item: &ItemSpec) -> bool {
    (who.person || !is_red(item)) && agency_sees(who.agency, item)
}

/// A stored correlation: `target` is told that its `own` item shares a value with `other`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Told {
    target: &'static str,
    own: usize,
    other: usize,
}

/// The correlations the hub records, replayed: on each publication, for each other agency
/// holding the value, its newest item where each agency may see the other's item.
fn correlations(items: &[ItemSpec], published: &[usize]) -> Vec<Told> {
    let mut told = Vec::new();
    for (position, &new) in published.iter().enumerate() {
        let item = &items[new];
        let mut agencies_told: Vec<&str> = Vec::new();
        for &earlier in published[..position].iter().rev() {
            let other = &items[earlier];
            if other.shared != item.shared
                || owner(other) == owner(item)
                || agencies_told.contains(&owner(other))
            {
                continue;
            }
            if agency_sees(owner(other), item) && agency_sees(owner(item), other) {
                agencies_told.push(owner(other));
                told.push(Told {
                    target: owner(other),
                    own: earlier,
                    other: new,
                });
                told.push(Told {
                    target: owner(item),
                    own: new,
                    other: earlier,
                });
            }
        }
    }
    told
}

// ---- The hub ---------------------------------------------------------------------------

fn to_scope(scope: &ScopeSpec) -> v1::Scope {
    match scope {
        ScopeSpec::All => all_members(),
        ScopeSpec::Group(group) => v1::Scope {
            target: Some(v1::scope::Target::SharingGroupId(
                GROUPS[*group].0.to_owned(),
            )),
        },
        ScopeSpec::Named(agencies) => {
            named(&agencies.iter().map(|&a| AGENCIES[a]).collect::<Vec<_>>())
        }
    }
}

fn domain(value: &str) -> v1::Observable {
    v1::Observable {
        r#type: v1::ObservableType::Domain as i32,
        value: value.to_owned(),
    }
}

/// The item as a request: the shared value and a value of its own.
fn to_indicator(index: usize, item: &ItemSpec) -> v1::Indicator {
    v1::Indicator {
        fraud_method: item.method.then(|| v1::FraudMethod {
            title: format!("Lažna podrška banke {index}"),
            description: "Prevaranti se predstavljaju kao služba podrške banke.".into(),
            countermeasures: "Banka nikada ne traži jednokratne kodove telefonom.".into(),
            category: v1::FraudCategory::TechSupportFraud as i32,
        }),
        observables: vec![
            domain(SHARED[item.shared]),
            domain(&format!("item-{index}.example")),
        ],
        language: "sr-Latn".into(),
        confidence: 70,
        tlp: TLPS[item.tlp] as i32,
        scope: Some(to_scope(&item.scope)),
        anonymous: item.anonymous,
        ..v1::Indicator::default()
    }
}

/// What one principal was sent on its stream up to the sentinel.
#[derive(Debug, Default)]
struct Received {
    /// Published items by id, with the source they were shown with.
    published: BTreeMap<String, String>,
    /// Correlations: (own id, other id, other agency as shown, value).
    correlations: BTreeSet<(String, String, String, String)>,
}

async fn read_until(
    stream: &mut Streaming<v1::SubscribeResponse>,
    sentinel: &str,
) -> anyhow::Result<Received> {
    let mut received = Received::default();
    loop {
        let message = tokio::time::timeout(PATIENCE, stream.message())
            .await
            .map_err(|_| anyhow::anyhow!("no event within {PATIENCE:?}"))??
            .ok_or_else(|| anyhow::anyhow!("the stream ended"))?;
        match message.event.and_then(|event| event.event) {
            Some(v1::indicator_event::Event::Published(indicator)) => {
                if indicator.id == sentinel {
                    return Ok(received);
                }
                let first = received
                    .published
                    .insert(indicator.id.clone(), indicator.source_agency_id);
                anyhow::ensure!(first.is_none(), "{} delivered twice", indicator.id);
            }
            Some(v1::indicator_event::Event::Correlation(matched)) => {
                let value = matched.observable.map(|o| o.value).unwrap_or_default();
                received.correlations.insert((
                    matched.own_indicator_id,
                    matched.other_indicator_id,
                    matched.other_agency_id,
                    value,
                ));
            }
            other => anyhow::bail!("unexpected event {other:?}"),
        }
    }
}

async fn list_all(client: &Client) -> anyhow::Result<BTreeSet<String>> {
    let mut ids = BTreeSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .indicators()
            .list_indicators(purposeful(v1::ListIndicatorsRequest {
                page_size: 7,
                page_token,
                ..v1::ListIndicatorsRequest::default()
            }))
            .await?
            .into_inner();
        ids.extend(page.indicators.into_iter().map(|i| i.id));
        if page.next_page_token.is_empty() {
            return Ok(ids);
        }
        page_token = page.next_page_token;
    }
}

async fn whoever_may_not_see_an_item_learns_nothing_of_it(backend: Backend) -> anyhow::Result<()> {
    let mut runner = TestRunner::new(Config {
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        ..Config::default()
    });
    let strategy = case_strategy();
    for number in 0..CASES {
        let case = strategy
            .new_tree(&mut runner)
            .map_err(|reason| anyhow::anyhow!("{reason}"))?
            .current();
        check_case(backend, &case)
            .await
            .map_err(|error| anyhow::anyhow!("case {number} failed: {error:#}\n{case:#?}"))?;
    }
    Ok(())
}

async fn check_case(backend: Backend, case: &Case) -> anyhow::Result<()> {
    let hub = TestHub::start(backend).await?;
    let mut clients = Vec::new();
    for who in PRINCIPALS {
        clients.push(hub.client(who.agency, who.name).await?);
    }
    let mut streams = Vec::new();
    for client in &clients {
        streams.push(
            client
                .indicators()
                .subscribe(purposeful(v1::SubscribeRequest {
                    after: Some(v1::Cursor { position: 0 }),
                    ..v1::SubscribeRequest::default()
                }))
                .await?
                .into_inner(),
        );
    }

    // Publish, in order; what the model refuses must be refused, and nothing stored.
    let mut ids: BTreeMap<usize, String> = BTreeMap::new();
    let mut published = Vec::new();
    for (index, item) in case.items.iter().enumerate() {
        let result = clients[item.publisher]
            .indicators()
            .publish(v1::PublishRequest {
                request_id: format!("visibility-{index}"),
                indicator: Some(to_indicator(index, item)),
            })
            .await;
        match (refusal(item), result) {
            (None, Ok(response)) => {
                let stored = response.into_inner().indicator.unwrap_or_default();
                ids.insert(index, stored.id);
                published.push(index);
            }
            (Some(code), Err(status)) => {
                anyhow::ensure!(
                    status.code() == code,
                    "item {index} refused with {status:?}"
                );
            }
            (None, Err(status)) => anyhow::bail!("item {index} refused: {status:?}"),
            (Some(_), Ok(_)) => anyhow::bail!("item {index} accepted, but may not be published"),
        }
    }

    // Sightings: only by a principal that may see the value in some item.
    let mut sighted: Vec<(&'static str, usize)> = Vec::new();
    for (number, &(reporter, shared)) in case.sightings.iter().enumerate() {
        let who = PRINCIPALS[reporter];
        let result = clients[reporter]
            .indicators()
            .report_sighting(v1::ReportSightingRequest {
                request_id: format!("sighting-{number}"),
                sighting: Some(v1::Sighting {
                    observable: Some(domain(SHARED[shared])),
                    count: 3,
                    ..v1::Sighting::default()
                }),
            })
            .await;
        let may = published
            .iter()
            .any(|&i| case.items[i].shared == shared && sees(who, &case.items[i]));
        match (may, result) {
            (true, Ok(_)) => sighted.push((who.agency, shared)),
            (false, Err(status)) if status.code() == Code::NotFound => {}
            (may, result) => {
                anyhow::bail!("sighting {number} by {who:?}: may={may}, got {result:?}")
            }
        }
    }

    // A sentinel every principal receives, after everything else.
    let sentinel = clients[2]
        .indicators()
        .publish(v1::PublishRequest {
            request_id: "visibility-sentinel".into(),
            indicator: Some(v1::Indicator {
                observables: vec![domain("sentinel.example")],
                language: "en".into(),
                tlp: v1::Tlp::Green as i32,
                scope: Some(all_members()),
                ..v1::Indicator::default()
            }),
        })
        .await?
        .into_inner()
        .indicator
        .unwrap_or_default()
        .id;

    // The normal form of each shared value (IDNA), as the hub reports it.
    let mut normal = Vec::new();
    for value in SHARED {
        let response = clients[0]
            .indicators()
            .lookup(v1::LookupRequest {
                observable: Some(domain(value)),
            })
            .await?
            .into_inner();
        normal.push(response.observable.unwrap_or_default().value);
    }

    let told = correlations(&case.items, &published);
    for (p, who) in PRINCIPALS.iter().copied().enumerate() {
        let visible: BTreeSet<usize> = published
            .iter()
            .copied()
            .filter(|&i| sees(who, &case.items[i]))
            .collect();
        let shown_source = |i: usize| {
            let item = &case.items[i];
            if item.anonymous && owner(item) != who.agency {
                String::new()
            } else {
                owner(item).to_owned()
            }
        };

        // Subscribe: exactly the visible items, sources hidden where anonymous.
        let received = read_until(&mut streams[p], &sentinel).await?;
        let expected: BTreeMap<String, String> = visible
            .iter()
            .map(|&i| (ids[&i].clone(), shown_source(i)))
            .collect();
        anyhow::ensure!(
            received.published == expected,
            "{who:?} was delivered {:?}, expected {expected:?}",
            received.published
        );

        // Correlations: exactly those told to its agency about two items it may see.
        let expected: BTreeSet<(String, String, String, String)> = told
            .iter()
            .filter(|t| {
                t.target == who.agency
                    && sees(who, &case.items[t.own])
                    && sees(who, &case.items[t.other])
            })
            .map(|t| {
                (
                    ids[&t.own].clone(),
                    ids[&t.other].clone(),
                    shown_source(t.other),
                    normal[case.items[t.own].shared].clone(),
                )
            })
            .collect();
        anyhow::ensure!(
            received.correlations == expected,
            "{who:?} was told of correlations {:?}, expected {expected:?}",
            received.correlations
        );

        // GetIndicator: the visible ones as delivered, NOT_FOUND for the rest.
        for &i in &published {
            let result = clients[p]
                .indicators()
                .get_indicator(v1::GetIndicatorRequest {
                    indicator_id: ids[&i].clone(),
                })
                .await;
            match (visible.contains(&i), result) {
                (true, Ok(response)) => {
                    let got = response.into_inner().indicator.unwrap_or_default();
                    anyhow::ensure!(got.source_agency_id == shown_source(i), "source of {i}");
                }
                (false, Err(status)) if status.code() == Code::NotFound => {}
                (may, result) => anyhow::bail!("{who:?} get {i}: may={may}, got {result:?}"),
            }
        }

        // ListIndicators: the visible ones and the sentinel.
        let mut expected: BTreeSet<String> = visible.iter().map(|i| ids[i].clone()).collect();
        expected.insert(sentinel.clone());
        let listed = list_all(&clients[p]).await?;
        anyhow::ensure!(
            listed == expected,
            "{who:?} listed {listed:?}, expected {expected:?}"
        );

        // Lookup of each shared value: counts, methods and sightings of visible items only.
        for (shared, value) in SHARED.iter().enumerate() {
            let holders: Vec<usize> = visible
                .iter()
                .copied()
                .filter(|&i| case.items[i].shared == shared)
                .collect();
            let response = clients[p]
                .indicators()
                .lookup(v1::LookupRequest {
                    observable: Some(domain(value)),
                })
                .await?
                .into_inner();
            let mut named: BTreeSet<&str> = BTreeSet::new();
            let mut anonymous = 0;
            for &i in &holders {
                if shown_source(i).is_empty() {
                    anonymous += 1;
                } else {
                    named.insert(owner(&case.items[i]));
                }
            }
            anyhow::ensure!(
                response.reporting_agency_count as usize == named.len() + anonymous,
                "{who:?} lookup {value}: {} agencies, expected {} named and {anonymous} anonymous",
                response.reporting_agency_count,
                named.len()
            );
            let methods: BTreeSet<String> = response.fraud_method_ids.into_iter().collect();
            let expected: BTreeSet<String> = holders
                .iter()
                .filter(|&&i| case.items[i].method)
                .map(|i| ids[i].clone())
                .collect();
            anyhow::ensure!(methods == expected, "{who:?} lookup {value}: methods");
            let mut reporters: Vec<String> = response
                .sightings
                .into_iter()
                .map(|s| s.agency_id)
                .collect();
            reporters.sort();
            let mut expected: Vec<String> = sighted
                .iter()
                // Nothing at all where the caller sees no item holding the value: even its
                // own agency's sightings would tell it that an item it may not see (say, a
                // RED one a person of its agency saw) holds the value.
                .filter(|&&(reporter, s)| {
                    s == shared
                        && !holders.is_empty()
                        && (reporter == who.agency
                            || holders
                                .iter()
                                .any(|&i| agency_sees(reporter, &case.items[i])))
                })
                .map(|&(reporter, _)| reporter.to_owned())
                .collect();
            expected.sort();
            anyhow::ensure!(
                reporters == expected,
                "{who:?} lookup {value}: sightings by {reporters:?}, expected {expected:?}"
            );
        }

        // Sharing groups: a member list only for members.
        for (group, members) in GROUPS {
            let result = clients[p]
                .directory()
                .get_sharing_group(v1::GetSharingGroupRequest {
                    sharing_group_id: group.to_owned(),
                })
                .await;
            match (members.contains(&who.agency), result) {
                (true, Ok(_)) => {}
                (false, Err(status)) if status.code() == Code::NotFound => {}
                (may, result) => anyhow::bail!("{who:?} group {group}: may={may}, got {result:?}"),
            }
        }
        let listed: BTreeSet<String> = clients[p]
            .directory()
            .list_sharing_groups(v1::ListSharingGroupsRequest::default())
            .await?
            .into_inner()
            .sharing_groups
            .into_iter()
            .map(|g| g.id)
            .collect();
        let expected: BTreeSet<String> = GROUPS
            .iter()
            .filter(|(_, members)| members.contains(&who.agency))
            .map(|(group, _)| (*group).to_owned())
            .collect();
        anyhow::ensure!(listed == expected, "{who:?} lists groups {listed:?}");
    }

    // The audit views: each agency's auditor sees, of the accesses to the items, only its
    // own items' entries in other agencies' records, and, in its own agency's records, the
    // owner of an anonymous item only if it is its own; other agencies' details never;
    // filtering by owner finds only what it may see. Every such entry is checked.
    let by_id: BTreeMap<&str, usize> = ids.iter().map(|(i, id)| (id.as_str(), *i)).collect();
    for agency in AGENCIES {
        let records = crate::support::audit_records_as(
            &hub,
            (agency, "auditor"),
            v1::QueryRecordsRequest::default(),
        )
        .await?;
        for record in &records {
            let actor = record
                .actor
                .as_ref()
                .and_then(|a| a.principal.as_ref())
                .map_or("", |p| p.agency_id.as_str());
            if actor != agency {
                anyhow::ensure!(
                    record.justification.is_empty() && record.client_address.is_empty(),
                    "{agency} sees another agency's details: {record:?}"
                );
            }
            for object in &record.objects {
                let Some(&i) = by_id.get(object.object_id.as_str()) else {
                    continue;
                };
                let item = &case.items[i];
                let expected_owner = if owner(item) == agency || !item.anonymous {
                    owner(item)
                } else {
                    ""
                };
                anyhow::ensure!(
                    owner(item) == agency || actor == agency,
                    "{agency} sees an entry of {}'s item {i} in {actor}'s record",
                    owner(item)
                );
                anyhow::ensure!(
                    object.owner_agency_id == expected_owner && object.anonymous == item.anonymous,
                    "{agency} sees item {i} ({item:?}) as {object:?}"
                );
            }
        }
        for other in AGENCIES {
            let filtered = crate::support::audit_records_as(
                &hub,
                (agency, "auditor"),
                v1::QueryRecordsRequest {
                    owner_agency_id: other.to_owned(),
                    ..v1::QueryRecordsRequest::default()
                },
            )
            .await?;
            for record in &filtered {
                let names_it = record.objects.iter().any(|o| o.owner_agency_id == other);
                anyhow::ensure!(
                    names_it,
                    "{agency}'s filter on owner {other} matched a record it shows no such entry in: {record:?}"
                );
            }
        }
    }
    hub.stop().await
}
