//! The rules a kiosk's upload must pass before the fleet stores it. The store keeps a
//! submission exactly once per id and its tracking code unique; what makes one acceptable is
//! decided here, and given to [`crate::store::Submissions::ingest`].

use protocol::fleet::SubmissionUpload;
use protocol::form::Service;

use crate::store::KioskRecord;

/// Why `item`, uploaded by `kiosk`, is refused, if it is: its tracking code must be the
/// kiosk's, its service id well formed, its form version one this server published (without
/// the definition nothing can be validated, and a kiosk must not file values against a form of
/// its own making), and its values must pass that form's validator. The kiosk keeps a refused
/// item with the reason (it is not lost).
pub fn check(
    kiosk: &KioskRecord,
    item: &SubmissionUpload,
    form: Option<&Service>,
) -> Result<(), String> {
    if item.tracking_code.kiosk_number() != kiosk.number {
        return Err("the tracking code was not issued by this kiosk".into());
    }
    if !protocol::form::is_valid_id(&item.service_id) {
        return Err("malformed service id".into());
    }
    let Some(service) = form else {
        return Err(format!(
            "version {} of the form {} was never published",
            item.form_version, item.service_id
        ));
    };
    if let Err(errors) = protocol::validate::validate_form(&service.form, &item.values) {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        return Err(format!("values do not validate: {}", fields.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use protocol::fleet::Catalog;
    use protocol::tracking::TrackingCode;
    use protocol::validate::{FieldValue, FormValues};

    use super::*;

    fn kiosk(number: u32) -> KioskRecord {
        KioskRecord {
            kiosk_id: format!("k-{number}"),
            number,
            name: "Kiosk".into(),
            group: "default".into(),
            enrolled_at: None,
            last_seen: None,
            agent_version: None,
            outbox_len: None,
            clock_skew_ms: None,
        }
    }

    fn podnet() -> Service {
        let c: Catalog =
            protocol::json::decode(include_bytes!("../../data/demo-catalog.json"), 1 << 20)
                .unwrap();
        c.services.into_iter().find(|s| s.id == "podnet").unwrap()
    }

    fn item(number: u32, text: &str) -> SubmissionUpload {
        let mut values = FormValues::new();
        values.insert("text".into(), FieldValue::Text(text.into()));
        SubmissionUpload {
            id: uuid::Uuid::new_v4(),
            tracking_code: TrackingCode::from_parts(number, 1).unwrap(),
            service_id: "podnet".into(),
            form_version: 1,
            language: protocol::Lang::Cs,
            values,
            identity: None,
            created_at: 0,
            notify: None,
        }
    }

    #[test]
    fn an_upload_is_refused_for_each_broken_rule_with_its_reason() {
        let (k, form) = (kiosk(4), podnet());
        assert_eq!(
            check(&k, &item(4, "Dost dlouhý podnět"), Some(&form)),
            Ok(())
        );
        assert_eq!(
            check(&k, &item(5, "Dost dlouhý podnět"), Some(&form)),
            Err("the tracking code was not issued by this kiosk".into())
        );
        let mut odd = item(4, "Dost dlouhý podnět");
        odd.service_id = "../etc".into();
        assert_eq!(
            check(&k, &odd, Some(&form)),
            Err("malformed service id".into())
        );
        assert_eq!(
            check(&k, &item(4, "Dost dlouhý podnět"), None),
            Err("version 1 of the form podnet was never published".into())
        );
        assert_eq!(
            check(&k, &item(4, ""), Some(&form)),
            Err("values do not validate: text".into())
        );
    }
}
