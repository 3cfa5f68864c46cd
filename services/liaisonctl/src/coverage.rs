//! Which command calls each RPC of the API, and the RPCs deliberately left without one.
//! The test below walks the API's descriptors and the clap command tree: an RPC added to
//! the API without a command here (or an exception with its reason) fails it, and so does
//! a command path here that the command line does not have.

/// `(RPC, the command that calls it)`, by service, in the protos' order.
#[rustfmt::skip]
pub const COMMANDS: &[(&str, &str)] = &[
    ("AuditService/QueryRecords", "audit query"),
    ("AuditService/ExportRecords", "audit export"),
    ("AuditService/GetCheckpoint", "audit checkpoint"),
    ("AuditService/GetInclusionProof", "audit prove"),
    ("AuditService/GetConsistencyProof", "audit verify"),
    ("AuditService/GetLogKeys", "audit verify"),
    ("CbmService/Notify", "cbm notify"),
    ("CbmService/GetNotification", "cbm show"),
    ("CbmService/ListNotifications", "cbm inbox"),
    ("CbmService/AcknowledgeNotification", "cbm ack"),
    ("CbmService/PostReply", "cbm reply"),
    ("CbmService/ListReplies", "cbm replies"),
    ("CbmService/RequestConsultation", "cbm consult request"),
    ("CbmService/AcknowledgeConsultation", "cbm consult ack"),
    ("CbmService/ScheduleConsultation", "cbm consult schedule"),
    ("CbmService/RecordConsultationHeld", "cbm consult held"),
    ("CbmService/CloseConsultation", "cbm consult close"),
    ("CbmService/GetConsultation", "cbm consult show"),
    ("CbmService/ListConsultations", "cbm consult list"),
    ("CbmService/WatchInbox", "cbm watch"),
    ("CbmService/StartCommunicationCheck", "cbm check start"),
    ("CbmService/RespondToCommunicationCheck", "cbm check answer"),
    ("CbmService/GetCommunicationCheckReport", "cbm check report"),
    ("CbmService/ListCommunicationChecks", "cbm check list"),
    ("CbmService/ListCommunicationCheckResults", "cbm check results"),
    ("DirectoryService/WhoAmI", "whoami"),
    ("DirectoryService/ListAgencies", "agencies list"),
    ("DirectoryService/GetAgency", "agencies show"),
    ("DirectoryService/ListPointsOfContact", "cbm poc list"),
    ("DirectoryService/SetPointOfContact", "cbm poc set"),
    ("DirectoryService/DeletePointOfContact", "cbm poc delete"),
    ("DirectoryService/ListSharingGroups", "admin group list"),
    ("DirectoryService/GetSharingGroup", "admin group show"),
    ("DirectoryService/CreateSharingGroup", "admin group create"),
    ("DirectoryService/UpdateSharingGroup", "admin group update"),
    ("DirectoryService/GetTokenKeys", "admin token-keys"),
    ("DirectoryService/RegisterAgency", "admin agency register"),
    ("DirectoryService/SuspendAgency", "admin agency suspend"),
    ("DirectoryService/ReinstateAgency", "admin agency reinstate"),
    ("DirectoryService/RegisterCertificate", "admin certificate register"),
    ("DirectoryService/RevokeCertificate", "admin certificate revoke"),
    ("DirectoryService/AssignRoles", "admin roles"),
    ("IndicatorService/Publish", "indicators publish"),
    ("IndicatorService/PublishMany", "indicators publish"),
    ("IndicatorService/GetIndicator", "indicators get"),
    ("IndicatorService/ListIndicators", "indicators search"),
    ("IndicatorService/Subscribe", "indicators watch"),
    ("IndicatorService/RevokeIndicator", "indicators revoke"),
    ("IndicatorService/LinkObservables", "indicators link"),
    ("IndicatorService/ReportSighting", "indicators sight"),
    ("IndicatorService/Lookup", "indicators lookup"),
    ("IndicatorService/ExportStix", "indicators export"),
    ("IndicatorService/ImportStix", "indicators import-stix"),
    ("MlaService/CreateDraft", "mla new"),
    ("MlaService/UpdateDraft", "mla update"),
    ("MlaService/DeleteDraft", "mla delete"),
    ("MlaService/SubmitRequest", "mla submit"),
    ("MlaService/AcknowledgeRequest", "mla ack"),
    ("MlaService/StartAssessment", "mla assess"),
    ("MlaService/RequestMoreInformation", "mla request-info"),
    ("MlaService/ProvideInformation", "mla provide-info"),
    ("MlaService/ProposeConditions", "mla conditions propose"),
    ("MlaService/AcceptConditions", "mla conditions accept"),
    ("MlaService/AcceptRequest", "mla accept"),
    ("MlaService/StartExecution", "mla start"),
    ("MlaService/ReportExecution", "mla execute"),
    ("MlaService/CloseRequest", "mla close"),
    ("MlaService/RefuseRequest", "mla refuse"),
    ("MlaService/PostponeRequest", "mla postpone"),
    ("MlaService/ResumeAssessment", "mla resume"),
    ("MlaService/WithdrawRequest", "mla withdraw"),
    ("MlaService/ConfirmPreservation", "mla preservation confirm"),
    ("MlaService/RequestPreservationExtension", "mla preservation request-extension"),
    ("MlaService/ExtendPreservation", "mla preservation extend"),
    ("MlaService/HoldPreservation", "mla preservation hold"),
    ("MlaService/ReleasePreservation", "mla preservation release"),
    ("MlaService/GetRequest", "mla show"),
    ("MlaService/ListRequests", "mla list"),
    ("MlaService/WatchRequests", "mla watch"),
    ("MlaService/PostMessage", "mla message"),
    ("MlaService/ListMessages", "mla messages"),
    ("MlaService/UploadEvidence", "mla upload"),
    ("MlaService/DownloadEvidence", "mla download"),
    ("MlaService/ListEvidence", "mla evidence"),
    ("MlaService/ListReceipts", "mla receipts"),
    ("MlaService/GetReceiptKeys", "mla verify-receipt"),
];

/// `(RPC, why no command calls it)`.
pub const WITHOUT_COMMAND: &[(&str, &str)] = &[(
    "DirectoryService/IssueToken",
    "a bearer token for system integrations that call the hub over HTTP; liaisonctl \
     authenticates every call with the client certificate itself, and `admin token-keys` \
     shows the keys that verify such tokens",
)];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;
    use prost::Message;

    use super::*;

    /// Every `Service/Method` of the `liaison.v1` package.
    fn api_methods() -> BTreeSet<String> {
        let set = prost_types::FileDescriptorSet::decode(liaison_proto::FILE_DESCRIPTOR_SET)
            .expect("the API's descriptor set decodes");
        let mut methods = BTreeSet::new();
        for file in set.file.iter().filter(|f| f.package() == "liaison.v1") {
            for service in &file.service {
                for method in &service.method {
                    methods.insert(format!("{}/{}", service.name(), method.name()));
                }
            }
        }
        methods
    }

    fn command_exists(path: &str) -> bool {
        let mut command = crate::Cli::command();
        for name in path.split(' ') {
            match command.find_subcommand(name) {
                Some(sub) => command = sub.clone(),
                None => return false,
            }
        }
        true
    }

    #[test]
    fn every_rpc_has_a_command_or_a_stated_reason() {
        let methods = api_methods();
        assert!(
            methods.len() > 80,
            "the descriptor set lists {} RPCs",
            methods.len()
        );
        let covered: BTreeSet<String> = COMMANDS
            .iter()
            .chain(WITHOUT_COMMAND)
            .map(|(rpc, _)| (*rpc).to_owned())
            .collect();
        let missing: Vec<_> = methods.difference(&covered).collect();
        assert!(
            missing.is_empty(),
            "RPCs with no command and no reason: {missing:?}"
        );
        let stale: Vec<_> = covered.difference(&methods).collect();
        assert!(
            stale.is_empty(),
            "listed RPCs the API does not have: {stale:?}"
        );
        for (rpc, path) in COMMANDS {
            assert!(
                command_exists(path),
                "{rpc}: no command `liaisonctl {path}`"
            );
        }
        for (rpc, reason) in WITHOUT_COMMAND {
            assert!(
                !COMMANDS.iter().any(|(r, _)| r == rpc),
                "{rpc} is in both lists"
            );
            assert!(reason.len() > 20, "{rpc}: say why it has no command");
        }
    }
}
