//! Objects to items: each attack-pattern becomes a fraud method with the indicators that
//! indicate it and the courses of action that mitigate it; the other indicators become
//! standalone items, one per handling; every item is validated as a publication would be.

use std::collections::HashMap;

use super::{Common, Course, DEFAULT_CONFIDENCE, ImportedIndicator, IndicatorObject, Reader};
use crate::{
    indicator::{
        Evaluation, FraudCategory, FraudMethodDraft, IndicatorDraft, NewIndicator, ScopeDraft,
        limits,
    },
    time::Timestamp,
    tlp::Tlp,
    violation::Violations,
};

impl Reader {
    /// The items of the objects read, validated; the violations of those that are not.
    pub(super) fn assemble(
        self,
        default_tlp: Option<Tlp>,
        scope: &ScopeDraft,
        violations: &mut Violations,
    ) -> Vec<ImportedIndicator> {
        let method_index: HashMap<&str, usize> = self
            .methods
            .iter()
            .enumerate()
            .map(|(index, method)| (method.common.id.as_str(), index))
            .collect();
        let indicator_index: HashMap<&str, usize> = self
            .indicators
            .iter()
            .enumerate()
            .map(|(index, indicator)| (indicator.common.id.as_str(), index))
            .collect();
        let course_index: HashMap<&str, usize> = self
            .courses
            .iter()
            .enumerate()
            .map(|(index, course)| (course.common.id.as_str(), index))
            .collect();
        let mut method_indicators: Vec<Vec<usize>> = vec![Vec::new(); self.methods.len()];
        let mut method_courses: Vec<Vec<usize>> = vec![Vec::new(); self.methods.len()];
        let mut linked = vec![false; self.indicators.len()];
        let mut course_used = vec![false; self.courses.len()];
        for (id, kind, source, target) in &self.relationships {
            // A relationship of a refused object was refused with it.
            if self.refused.contains(source) || self.refused.contains(target) {
                continue;
            }
            let field = format!("bundle_json.{id}");
            let Some(&method) = method_index.get(target.as_str()) else {
                violations.add(
                    field,
                    format!("{kind} target must be an attack-pattern of this bundle"),
                );
                continue;
            };
            let source_index = if kind == "indicates" {
                indicator_index.get(source.as_str())
            } else {
                course_index.get(source.as_str())
            };
            let Some(&source_index) = source_index else {
                let expected = if kind == "indicates" {
                    "an indicator"
                } else {
                    "a course-of-action"
                };
                violations.add(
                    field,
                    format!("{kind} source must be {expected} of this bundle"),
                );
                continue;
            };
            if kind == "indicates" {
                // An indicator of two methods is an observable of both.
                method_indicators[method].push(source_index);
                linked[source_index] = true;
            } else {
                method_courses[method].push(source_index);
                course_used[source_index] = true;
            }
        }
        for (course, used) in self.courses.iter().zip(&course_used) {
            if !used {
                violations.add(
                    format!("bundle_json.{}", course.common.id),
                    "course-of-action mitigates no attack-pattern of this bundle",
                );
            }
        }

        let mut items = Vec::new();
        for (index, method) in self.methods.iter().enumerate() {
            let indicators: Vec<&IndicatorObject> = method_indicators[index]
                .iter()
                .map(|&i| &self.indicators[i])
                .collect();
            let courses: Vec<&Course> = method_courses[index]
                .iter()
                .map(|&i| &self.courses[i])
                .collect();
            let countermeasures = courses
                .iter()
                .map(|course| course.text.as_str())
                .collect::<Vec<_>>()
                .join("\n\n");
            let tlp = handling(
                std::iter::once(method.common.tlp)
                    .chain(indicators.iter().map(|i| i.common.tlp))
                    .chain(courses.iter().map(|c| c.common.tlp)),
                default_tlp,
            );
            let fraud_method = FraudMethodDraft {
                title: method.name.clone(),
                description: method.description.clone(),
                countermeasures,
                category: Some(category(&method.common.labels)),
            };
            let draft = Draft {
                anchor: &method.common,
                fraud_method: Some(fraud_method),
                indicators,
                tlp,
                lang: method.common.lang.clone(),
            };
            items.extend(draft.validate(scope, violations));
        }

        // Standalone indicators, grouped by handling in the order they came.
        let mut groups: Vec<(GroupKey, Vec<&IndicatorObject>)> = Vec::new();
        for (index, indicator) in self.indicators.iter().enumerate() {
            if linked[index] {
                continue;
            }
            let key = GroupKey {
                tlp: indicator.common.tlp,
                confidence: indicator.confidence,
                valid_until: indicator.valid_until,
                lang: indicator.common.lang.clone(),
                evaluation: evaluation_label(&indicator.common.labels),
            };
            match groups
                .iter_mut()
                .rev()
                .find(|(existing, members)| *existing == key && members.len() < limits::OBSERVABLES)
            {
                Some((_, members)) => members.push(indicator),
                None => groups.push((key, vec![indicator])),
            }
        }
        for (_, indicators) in groups {
            let first = indicators[0];
            let draft = Draft {
                anchor: &first.common,
                fraud_method: None,
                tlp: handling(std::iter::once(first.common.tlp), default_tlp),
                lang: first.common.lang.clone(),
                indicators,
            };
            items.extend(draft.validate(scope, violations));
        }
        items
    }
}

#[derive(Debug, PartialEq, Eq)]
struct GroupKey {
    tlp: Option<Tlp>,
    confidence: u32,
    valid_until: Option<Timestamp>,
    lang: Option<String>,
    evaluation: Option<String>,
}

/// One item about to be validated.
struct Draft<'a> {
    anchor: &'a Common,
    fraud_method: Option<FraudMethodDraft>,
    indicators: Vec<&'a IndicatorObject>,
    tlp: Option<Tlp>,
    lang: Option<String>,
}

impl Draft<'_> {
    fn validate(
        self,
        scope: &ScopeDraft,
        violations: &mut Violations,
    ) -> Option<ImportedIndicator> {
        let field = format!("bundle_json.{}", self.anchor.id);
        let Some(tlp) = self.tlp else {
            violations.add(
                field,
                "no TLP marking on the object or its indicators, and no default_tlp",
            );
            return None;
        };
        let evaluation = match evaluation_label(&self.anchor.labels) {
            None => None,
            Some(code) => match Evaluation::parse(&code) {
                Some(evaluation) => Some((
                    Some(evaluation.source_reliability()),
                    Some(evaluation.information_accuracy()),
                )),
                None => {
                    violations.add(
                        field,
                        "label evaluation:<code> must be a source reliability A, B, C or X \
                         and an accuracy 1 to 4, e.g. evaluation:B2",
                    );
                    return None;
                }
            },
        };
        let all_expire = self.indicators.iter().all(|i| i.valid_until.is_some());
        let draft = IndicatorDraft {
            fraud_method: self.fraud_method,
            observables: self
                .indicators
                .iter()
                .map(|i| (Some(i.observable.kind()), i.observable.value().to_owned()))
                .collect(),
            language: self
                .lang
                .or_else(|| self.indicators.iter().find_map(|i| i.common.lang.clone()))
                .unwrap_or_else(|| "en".to_owned()),
            first_seen: self.indicators.iter().map(|i| i.valid_from).min(),
            valid_until: if all_expire {
                self.indicators.iter().filter_map(|i| i.valid_until).max()
            } else {
                None
            },
            confidence: self
                .indicators
                .iter()
                .map(|i| i.confidence)
                .min()
                .unwrap_or(DEFAULT_CONFIDENCE),
            evaluation,
            tlp: Some(tlp),
            scope: scope.clone(),
            anonymous: false,
        };
        match NewIndicator::validate(draft, &field) {
            Ok(indicator) => Some(ImportedIndicator {
                stix_id: self.anchor.id.clone(),
                indicator,
            }),
            Err(found) => {
                for violation in found {
                    violations.add(violation.field, violation.description);
                }
                None
            }
        }
    }
}

/// The most restrictive TLP found, else the default.
fn handling(tlps: impl Iterator<Item = Option<Tlp>>, default_tlp: Option<Tlp>) -> Option<Tlp> {
    tlps.flatten().max().or(default_tlp)
}

fn category(labels: &[String]) -> FraudCategory {
    labels
        .iter()
        .find_map(|label| FraudCategory::parse(label.strip_prefix("fraud-category:")?))
        .unwrap_or(FraudCategory::Other)
}

fn evaluation_label(labels: &[String]) -> Option<String> {
    labels
        .iter()
        .find_map(|label| label.strip_prefix("evaluation:").map(str::to_owned))
}
