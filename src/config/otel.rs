//! The trace export area of [`Config`](super::Config): the standard `OTEL_*` variables this service honours
//! (docs/operations.md#traces). Export is on when an OTLP endpoint is set; anything it cannot honour is refused
//! with one line naming the variable, never its value when the value may be a secret.

use std::time::Duration;

use reqwest::Url;

use super::{ConfigError, Raw, Secret, bad, parse_bool, parse_http_url, parse_num};

/// Where and how traces are exported.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceExport {
    /// The OTLP/HTTP traces URL: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` followed by `/v1/traces`.
    pub endpoint: Url,
    /// `OTEL_EXPORTER_OTLP_HEADERS`: headers sent with every export (a back-end's API key, say).
    pub headers: Vec<(String, Secret)>,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`: the longest one export may take.
    pub timeout: Duration,
    /// `OTEL_SERVICE_NAME` (else `service.name` of the resource attributes, else `user-profile-service`).
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES` other than `service.name`, e.g. `deployment.environment.name=production`.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_SAMPLER` with its `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: Sampler,
}

/// Which traces are recorded and exported (`OTEL_TRACES_SAMPLER`). The parent-based samplers follow the caller's
/// decision (its `traceparent` sampled flag) and apply their own rule to the traces this service starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// This share (0 to 1) of trace ids.
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
}

/// The default `OTEL_SERVICE_NAME`.
pub const SERVICE_NAME: &str = "user-profile-service";

impl TraceExport {
    /// `None` when no endpoint is set, or when `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
    pub(super) fn parse(raw: &mut Raw) -> Result<Option<Self>, ConfigError> {
        let Some(endpoint) = enabled_endpoint(raw)? else {
            return Ok(None);
        };
        let (service_name, resource_attributes) = resource(raw)?;
        Ok(Some(TraceExport {
            endpoint,
            headers: headers(raw.otel_exporter_otlp_headers.take())?,
            timeout: Duration::from_millis(
                parse_num(
                    "OTEL_EXPORTER_OTLP_TIMEOUT",
                    raw.otel_exporter_otlp_timeout.take(),
                    10_000,
                )?
                .max(1),
            ),
            service_name,
            resource_attributes,
            sampler: sampler(raw)?,
        }))
    }
}

/// The traces URL when traces are to be exported: an endpoint is set, the exporter is not `none`, the SDK not
/// disabled; and the protocol, when set, is the one this build speaks.
fn enabled_endpoint(raw: &mut Raw) -> Result<Option<Url>, ConfigError> {
    let disabled = parse_bool("OTEL_SDK_DISABLED", raw.otel_sdk_disabled.as_deref(), false)?;
    match raw.otel_traces_exporter.take().as_deref().map(str::trim) {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(bad(format!(
                "OTEL_TRACES_EXPORTER must be `otlp` or `none`, not `{other}`"
            )));
        }
    }
    let Some(endpoint) = endpoint(raw)? else {
        return Ok(None);
    };
    if disabled {
        return Ok(None);
    }
    match raw
        .otel_exporter_otlp_protocol
        .take()
        .as_deref()
        .map(str::trim)
    {
        None | Some("http/protobuf") => {}
        Some(other) => {
            return Err(bad(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL: traces are exported over `http/protobuf` only (a collector's \
                 port 4318), not `{other}`"
            )));
        }
    }
    Ok(Some(endpoint))
}

/// The service name (`OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else ours) and the
/// other resource attributes.
fn resource(raw: &mut Raw) -> Result<(String, Vec<(String, String)>), ConfigError> {
    let mut attributes = raw
        .otel_resource_attributes
        .take()
        .map(|list| key_values("OTEL_RESOURCE_ATTRIBUTES", &list))
        .transpose()?
        .unwrap_or_default();
    let named = attributes
        .iter()
        .position(|(k, _)| k == "service.name")
        .map(|i| attributes.remove(i).1);
    let service_name = raw
        .otel_service_name
        .take()
        .map(|name| name.trim().to_string())
        .or(named)
        .unwrap_or_else(|| SERVICE_NAME.to_string());
    Ok((service_name, attributes))
}

/// The traces URL, when an endpoint is set.
fn endpoint(raw: &mut Raw) -> Result<Option<Url>, ConfigError> {
    if let Some(url) = raw.otel_exporter_otlp_traces_endpoint.take() {
        return parse_http_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.trim()).map(Some);
    }
    let Some(base) = raw.otel_exporter_otlp_endpoint.take() else {
        return Ok(None);
    };
    let base = base.trim().trim_end_matches('/');
    parse_http_url("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("{base}/v1/traces")).map(Some)
}

fn sampler(raw: &mut Raw) -> Result<Sampler, ConfigError> {
    let arg = raw.otel_traces_sampler_arg.take();
    let ratio = || -> Result<f64, ConfigError> {
        let Some(arg) = arg.as_deref() else {
            return Ok(1.0);
        };
        arg.trim()
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| {
                bad(format!(
                    "OTEL_TRACES_SAMPLER_ARG is a ratio from 0 to 1, such as 0.01, not `{arg}`"
                ))
            })
    };
    let name = raw.otel_traces_sampler.take();
    Ok(
        match name
            .as_deref()
            .map(str::trim)
            .unwrap_or("parentbased_always_on")
        {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(ratio()?),
            "parentbased_always_on" => Sampler::ParentBasedAlwaysOn,
            "parentbased_always_off" => Sampler::ParentBasedAlwaysOff,
            "parentbased_traceidratio" => Sampler::ParentBasedTraceIdRatio(ratio()?),
            other => {
                return Err(bad(format!(
                    "OTEL_TRACES_SAMPLER must be always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio, not `{other}`"
                )));
            }
        },
    )
}

/// `OTEL_EXPORTER_OTLP_HEADERS`: each a valid header name and value. Never echoed: a value may be a key.
fn headers(list: Option<String>) -> Result<Vec<(String, Secret)>, ConfigError> {
    let Some(list) = list else {
        return Ok(Vec::new());
    };
    key_values("OTEL_EXPORTER_OTLP_HEADERS", &list)
        .map_err(|_| bad("OTEL_EXPORTER_OTLP_HEADERS must be a list of `name=value` separated by commas"))?
        .into_iter()
        .map(|(name, value)| {
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(&value).is_ok();
            if valid {
                Ok((name, Secret::new(value)))
            } else {
                Err(bad(
                    "OTEL_EXPORTER_OTLP_HEADERS holds a header name or value that HTTP does not allow",
                ))
            }
        })
        .collect()
}

/// A W3C Baggage-style list, `key1=value1,key2=value2`, values percent-decoded (OpenTelemetry's format for
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`).
fn key_values(name: &str, list: &str) -> Result<Vec<(String, String)>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (key, value) = item
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| {
                    bad(format!(
                        "{name} must be a list of `key=value` separated by commas, not `{item}`"
                    ))
                })?;
            let value = percent_decode(value.trim())
                .ok_or_else(|| bad(format!("{name} holds a malformed %-escape in `{item}`")))?;
            Ok((key.trim().to_string(), value))
        })
        .collect()
}

/// `%XX` escapes decoded; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    fn export(vars: &[(&str, &str)]) -> Option<TraceExport> {
        Config::from_vars(vars.iter().copied()).unwrap().traces
    }

    fn refusal(vars: &[(&str, &str)]) -> String {
        Config::from_vars(vars.iter().copied())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn without_an_endpoint_nothing_is_exported() {
        assert_eq!(export(&[]), None);
        assert_eq!(export(&[("OTEL_SERVICE_NAME", "x")]), None);
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(export(&[base, ("OTEL_SDK_DISABLED", "true")]), None);
        assert_eq!(export(&[base, ("OTEL_TRACES_EXPORTER", "none")]), None);
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_and_the_traces_endpoint_is_used_as_it_is() {
        let base = export(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(base.endpoint.as_str(), "http://collector:4318/v1/traces");
        let own = export(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://tempo.example/otlp/traces",
            ),
        ])
        .unwrap();
        assert_eq!(own.endpoint.as_str(), "https://tempo.example/otlp/traces");
    }

    #[test]
    fn defaults_follow_the_opentelemetry_specification() {
        let settings = export(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")]).unwrap();
        assert_eq!(settings.service_name, SERVICE_NAME);
        assert_eq!(settings.sampler, Sampler::ParentBasedAlwaysOn);
        assert_eq!(settings.timeout, Duration::from_secs(10));
        assert!(settings.headers.is_empty() && settings.resource_attributes.is_empty());
    }

    #[test]
    fn service_name_sampler_resource_attributes_and_headers_are_read() {
        let settings = export(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.01"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs, deployment.environment.name=prod%20eu",
            ),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=abc%3D%3D,x-tenant=shop",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ])
        .unwrap();
        assert_eq!(settings.sampler, Sampler::ParentBasedTraceIdRatio(0.01));
        assert_eq!(settings.service_name, "from-attrs");
        assert_eq!(
            settings.resource_attributes,
            [(
                "deployment.environment.name".to_string(),
                "prod eu".to_string()
            )]
        );
        assert_eq!(settings.headers[0].0, "x-api-key");
        assert_eq!(settings.headers[0].1.expose(), "abc==");
        assert_eq!(settings.timeout, Duration::from_millis(2500));
        let named = export(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SERVICE_NAME", "profiles-eu"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored"),
        ])
        .unwrap();
        assert_eq!(named.service_name, "profiles-eu");
    }

    #[test]
    fn what_cannot_be_honoured_is_refused_with_the_variable_name_and_never_a_header_value() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        for (vars, name) in [
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ),
            (
                vec![base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ),
            (
                vec![base, ("OTEL_TRACES_SAMPLER", "jaeger_remote")],
                "OTEL_TRACES_SAMPLER",
            ),
            (
                vec![
                    base,
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                ],
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            (
                vec![base, ("OTEL_TRACES_EXPORTER", "zipkin")],
                "OTEL_TRACES_EXPORTER",
            ),
            (
                vec![base, ("OTEL_RESOURCE_ATTRIBUTES", "novalue")],
                "OTEL_RESOURCE_ATTRIBUTES",
            ),
        ] {
            assert!(refusal(&vars).contains(name), "{name}: {}", refusal(&vars));
        }
        let secret = refusal(&[
            base,
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s3cr3t\u{7f}"),
        ]);
        assert!(
            secret.contains("OTEL_EXPORTER_OTLP_HEADERS") && !secret.contains("s3cr3t"),
            "{secret}"
        );
        let broken = refusal(&[base, ("OTEL_EXPORTER_OTLP_HEADERS", "s3cr3t")]);
        assert!(!broken.contains("s3cr3t"), "{broken}");
    }
}
