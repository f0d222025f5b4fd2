//! AWS's runtime deprecation table: from its "Block function create" date a runtime is refused
//! for new functions, from its "Block function update" date for code updates and for
//! UpdateFunctionConfiguration naming it. Dates are compared with nimbus's clock, so the table
//! keeps answering as AWS does as time passes (and tests can move the clock past a date).
//!
//! Source: docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html (deprecated and
//! supported runtimes tables, as of mid-2026: AWS moved most 2026 dates to 2027-02-01 /
//! 2027-03-03). Real AWS answers recorded in January 2026 agree: java8, go1.x, provided,
//! ruby2.7, nodejs14.x, python3.7 refused at creation; nodejs16.x, python3.8, dotnet6 accepted.

use chrono::NaiveDate;

use crate::error::{self, Result};

/// (runtime, block function create, block function update), as `YYYY-MM-DD` (UTC).
const LIFECYCLE: &[(&str, &str, &str)] = &[
    ("nodejs", "2016-09-30", "2016-10-31"),
    ("nodejs4.3", "2020-02-03", "2020-03-05"),
    ("nodejs4.3-edge", "2019-03-31", "2019-04-30"),
    ("nodejs6.10", "2019-07-12", "2019-08-12"),
    ("nodejs8.10", "2020-02-04", "2020-03-06"),
    ("nodejs10.x", "2021-07-30", "2022-02-14"),
    ("nodejs12.x", "2023-03-31", "2023-04-30"),
    ("nodejs14.x", "2024-01-09", "2027-03-03"),
    ("nodejs16.x", "2027-02-01", "2027-03-03"),
    ("nodejs18.x", "2027-02-01", "2027-03-03"),
    ("nodejs20.x", "2027-02-01", "2027-03-03"),
    ("nodejs22.x", "2027-06-01", "2027-07-01"),
    ("nodejs24.x", "2028-06-01", "2028-07-01"),
    ("python2.7", "2021-07-15", "2022-05-30"),
    ("python3.6", "2022-07-18", "2022-08-29"),
    ("python3.7", "2024-01-09", "2027-03-03"),
    ("python3.8", "2027-02-01", "2027-03-03"),
    ("python3.9", "2027-02-01", "2027-03-03"),
    ("python3.10", "2027-02-01", "2027-03-03"),
    ("python3.11", "2027-07-31", "2027-08-31"),
    ("python3.12", "2028-11-30", "2029-01-10"),
    ("python3.13", "2029-07-31", "2029-08-31"),
    ("python3.14", "2029-07-31", "2029-08-31"),
    ("java8", "2024-02-08", "2027-03-03"),
    ("java8.al2", "2027-07-31", "2027-08-31"),
    ("java11", "2027-07-31", "2027-08-31"),
    ("java17", "2027-07-31", "2027-08-31"),
    ("java21", "2029-07-31", "2029-08-31"),
    ("java25", "2029-07-31", "2029-08-31"),
    ("dotnetcore1.0", "2019-06-30", "2019-07-30"),
    ("dotnetcore2.0", "2019-04-30", "2019-05-30"),
    ("dotnetcore2.1", "2022-01-05", "2022-04-13"),
    ("dotnetcore3.1", "2023-04-03", "2023-05-03"),
    ("dotnet6", "2027-02-01", "2027-03-03"),
    ("dotnet7", "2024-05-14", "2024-05-14"),
    ("dotnet8", "2027-02-01", "2027-03-03"),
    ("dotnet10", "2028-12-14", "2029-01-15"),
    ("ruby2.5", "2021-07-30", "2022-03-31"),
    ("ruby2.7", "2024-01-09", "2027-03-03"),
    ("ruby3.2", "2027-02-01", "2027-03-03"),
    ("ruby3.3", "2027-04-30", "2027-05-31"),
    ("ruby3.4", "2028-04-30", "2028-05-31"),
    ("ruby4.0", "2029-04-30", "2029-05-31"),
    ("go1.x", "2024-02-08", "2027-03-03"),
    ("provided", "2024-02-08", "2027-03-03"),
    ("provided.al2", "2027-02-01", "2027-03-03"),
    ("provided.al2023", "2029-07-31", "2029-08-31"),
];

/// The runtimes AWS's enum error lists, in the order its answer of January 2026 lists them
/// (ruby4.0, added since, last); only those not yet blocked for creation are named.
const ENUM_MESSAGE_ORDER: &[&str] = &[
    "nodejs20.x",
    "python3.14",
    "provided.al2023",
    "python3.12",
    "python3.13",
    "nodejs24.x",
    "nodejs22.x",
    "java25",
    "python3.10",
    "python3.11",
    "java21",
    "ruby3.3",
    "ruby3.4",
    "ruby3.2",
    "python3.8",
    "python3.9",
    "java17",
    "nodejs16.x",
    "dotnet10",
    "dotnet8",
    "java11",
    "dotnet6",
    "nodejs18.x",
    "provided.al2",
    "java8.al2",
    "ruby4.0",
];

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("lifecycle dates are valid")
}

fn dates(runtime: &str) -> Option<(NaiveDate, NaiveDate)> {
    LIFECYCLE.iter().find(|(r, _, _)| *r == runtime).map(|(_, create, update)| (date(create), date(update)))
}

fn refused(runtime: &str) -> nimbus_core::AwsError {
    error::invalid_parameter(format!(
        "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
    ))
}

/// CreateFunction with `runtime` on `today`.
pub fn check_create(runtime: &str, today: NaiveDate) -> Result<()> {
    match dates(runtime) {
        Some((create, _)) if today >= create => Err(refused(runtime)),
        _ => Ok(()),
    }
}

/// UpdateFunctionCode of a function on `runtime`, or UpdateFunctionConfiguration naming it.
pub fn check_update(runtime: &str, today: NaiveDate) -> Result<()> {
    match dates(runtime) {
        Some((_, update)) if today >= update => Err(refused(runtime)),
        _ => Ok(()),
    }
}

/// The runtimes the unknown-runtime message offers on `today`.
pub fn offered(today: NaiveDate) -> Vec<&'static str> {
    ENUM_MESSAGE_ORDER.iter().copied().filter(|r| check_create(r, today).is_ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_follow_the_dates() {
        let today = date("2026-12-04");
        for rt in ["java8", "go1.x", "provided", "nodejs14.x", "python3.7", "ruby2.7", "nodejs12.x", "dotnet7"] {
            assert!(check_create(rt, today).is_err(), "{rt}");
        }
        for rt in ["nodejs20.x", "python3.9", "ruby3.2", "dotnet6", "nodejs16.x", "python3.14", "nodejs26.x"] {
            assert!(check_create(rt, today).is_ok(), "{rt}");
        }
        // Created before the block: code updates still go through until the update block.
        assert!(check_update("java8", today).is_ok());
        assert!(check_update("nodejs12.x", today).is_err());
        assert!(check_create("nodejs20.x", date("2027-02-01")).is_err());
        assert!(check_update("nodejs20.x", date("2027-03-02")).is_ok());
        assert!(check_update("nodejs20.x", date("2027-03-03")).is_err());
    }

    #[test]
    fn the_enum_message_names_what_can_be_created() {
        let listed = offered(date("2026-12-04"));
        assert_eq!(listed.len(), 26);
        assert_eq!(listed[..3], ["nodejs20.x", "python3.14", "provided.al2023"]);
        assert!(!offered(date("2027-02-01")).contains(&"nodejs20.x"));
        for rt in ENUM_MESSAGE_ORDER {
            assert!(dates(rt).is_some(), "{rt} has dates");
        }
    }
}
