"""Offline checks of deploy/: the Kubernetes objects against the Kubernetes schemas, what the manifests promise
(probes, drain, security, every setting of .env.example), the Grafana dashboard, the runbook links, and that every
metric an alert, recording rule or panel names is one the service exports. Run by .ci/deploy-checks, which
renders the kustomizations first and passes the rendered files.

    python deploy_checks.py RENDERED_BASE.yaml RENDERED_PRODUCTION.yaml
"""

import json
import re
import sys
from pathlib import Path

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "kubernetes"
RULES = ROOT / "deploy" / "prometheus" / "rules.yaml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests"
DASHBOARD_DIR = ROOT / "deploy" / "grafana"
RUNBOOK = ROOT / "docs" / "runbook.md"
# The Kubernetes version whose schemas the objects must satisfy (the oldest minor we support).
KUBERNETES_VERSION = "1.30.0"
# Settings that hold credentials: in the Secret, never in the ConfigMap.
SECRET_VARIABLES = {
    "DATABASE_URL",
    "DATABASE_READ_URL",
    "JWT_SECRET",
    "REDIS_URL",
    "NATS_URL",
    "OTEL_EXPORTER_OTLP_HEADERS",
}
# Series Prometheus itself provides for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}

failures = []


def fail(message):
    failures.append(message)
    print(f"  FAIL {message}")


def ok(message):
    print(f"  ok   {message}")


def load_all(path):
    return [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc]


def env_example_variables():
    """Every variable .env.example names, active or commented out, in file order."""
    names = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


# -- Kubernetes -------------------------------------------------------------------------------------------------

SERVICE_MONITOR_KEYS = {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels"}
SERVICE_MONITOR_ENDPOINT_KEYS = {"port", "path", "interval", "scrapeTimeout", "scheme", "relabelings"}


def validate_service_monitor(obj):
    """The Prometheus Operator's CRD ships no schema with kubernetes-validate: check the fields used here."""
    spec = obj.get("spec", {})
    problems = [f"unknown spec field {k}" for k in spec if k not in SERVICE_MONITOR_KEYS]
    if not spec.get("selector", {}).get("matchLabels"):
        problems.append("spec.selector.matchLabels is empty")
    for endpoint in spec.get("endpoints", []):
        problems += [f"unknown endpoint field {k}" for k in endpoint if k not in SERVICE_MONITOR_ENDPOINT_KEYS]
        if not isinstance(endpoint.get("port"), str):
            problems.append("an endpoint has no named port")
    if not spec.get("endpoints"):
        problems.append("no endpoints")
    return problems


def validate_objects(label, objects):
    for obj in objects:
        name = f"{label}: {obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if obj.get("apiVersion", "").startswith("monitoring.coreos.com/"):
            problems = validate_service_monitor(obj)
            if problems:
                fail(f"{name}: {'; '.join(problems)}")
            else:
                ok(f"{name} (Prometheus Operator fields)")
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            ok(f"{name} valid for Kubernetes {KUBERNETES_VERSION}")
        except kubernetes_validate.ValidationError as err:
            fail(f"{name}: {err.message} at {'.'.join(str(p) for p in err.path)}")
        except Exception as err:  # a schema that cannot be found is a failure too
            fail(f"{name}: {type(err).__name__}: {err}")


def by_kind(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    if not found:
        fail(f"no {kind} {name or ''}")
        return {}
    return found[0]


def check_settings(objects):
    """The ConfigMap and the Secret example hold every variable of .env.example, each in its place."""
    config = by_kind(objects, "ConfigMap").get("data", {})
    secret = load_all(K8S / "base" / "secret.example.yaml")[0].get("stringData", {})
    wanted = env_example_variables()
    missing = [v for v in wanted if v not in config and v not in secret]
    for variable in missing:
        where = "secret.example.yaml stringData" if variable in SECRET_VARIABLES else "configmap.yaml data"
        fail(f'{variable} (in .env.example) is in neither: add `{variable}: ""` to {where} (empty = unset)')
    stale = sorted((set(config) | set(secret)) - set(wanted))
    for variable in stale:
        fail(f"{variable} is in the ConfigMap or Secret but not in .env.example")
    misplaced = sorted(SECRET_VARIABLES & set(config))
    for variable in misplaced:
        fail(f"{variable} holds credentials: it belongs in the Secret, not the ConfigMap")
    if not missing and not stale and not misplaced:
        ok(f"ConfigMap ({len(config)}) + Secret example ({len(secret)}) = the {len(wanted)} variables of .env.example")
    return config


def check_deployment(label, objects, config):
    deployment = by_kind(objects, "Deployment")
    if not deployment:
        return
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    expect = [
        (container.get("startupProbe", {}).get("httpGet", {}).get("path") == "/health", "startup probe on /health"),
        (container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/health", "liveness probe on /health"),
        (container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/health/ready",
         "readiness probe on /health/ready"),
        (pod.get("securityContext", {}).get("runAsNonRoot") is True, "runAsNonRoot"),
        (container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, "read-only root file system"),
        (container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, "no privilege escalation"),
        (bool(pod.get("topologySpreadConstraints")), "topology spread constraints"),
        (all(k in container.get("resources", {}).get(kind, {}) for kind in ("requests", "limits")
             for k in ("cpu", "memory")), "cpu and memory requests and limits"),
        (config.get("RUN_MIGRATIONS") == "false", "replicas start with RUN_MIGRATIONS=false"),
        (str(ports.get("metrics")) == config.get("METRICS_PORT"), "container port `metrics` = METRICS_PORT"),
        (str(ports.get("http")) == config.get("PORT"), "container port `http` = PORT"),
    ]
    drain = int(config.get("SHUTDOWN_DELAY_SECONDS") or 0) + int(config.get("SHUTDOWN_TIMEOUT_SECONDS") or 30)
    grace = pod.get("terminationGracePeriodSeconds", 30)
    expect.append((grace > drain, f"terminationGracePeriodSeconds {grace} > shutdown delay + timeout {drain}"))
    job = by_kind(objects, "Job")
    expect.append((job and job["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate"],
                   "the Job runs `migrate`"))
    for passed, what in expect:
        (ok if passed else fail)(f"{label}: {what}")


# -- Prometheus and Grafana --------------------------------------------------------------------------------------

PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                   "offset", "bool", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression reads (not functions, keywords, labels, strings or durations)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings: label values, label_replace arguments
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range and subquery windows
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for match in re.finditer(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expr):
        word = match.group(1)
        if word.lower() not in PROMQL_KEYWORDS:
            names.add(word)
    return names


def exported_metrics():
    """Every series the service describes (src/http/metrics.rs and the constants it re-exports), histograms
    with their `_bucket`, `_sum` and `_count` series."""
    sources = "\n".join(p.read_text() for p in (ROOT / "src").rglob("*.rs"))
    consts = dict(re.findall(r'pub const ([A-Z_]+): &str = "([a-z_:]+)";', sources))
    metrics_rs = (ROOT / "src" / "http" / "metrics.rs").read_text()  # every describe_*! call of the service
    names, histograms = set(), set()
    for macro, target in re.findall(r"metrics::describe_(counter|gauge|histogram)!\(\s*([A-Z_]+)", metrics_rs):
        name = consts.get(target)
        if name is None:
            fail(f"cannot resolve the metric constant {target}")
            continue
        names.add(name)
        if macro == "histogram":
            histograms.add(name)
    for name in histograms:
        names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def check_rules_and_dashboard(exported):
    rules = yaml.safe_load(RULES.read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    known = exported | recorded | PROMETHEUS_SERIES
    used = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in metric_names(rule["expr"]):
                used.setdefault(name, set()).add(rule.get("alert") or rule.get("record"))
    dashboards = sorted(DASHBOARD_DIR.glob("*.json"))
    for path in dashboards:
        for panel, expr in dashboard_queries(path):
            for name in metric_names(expr):
                used.setdefault(name, set()).add(f"{path.name} panel '{panel}'")
    unknown = sorted(n for n in used if n not in known)
    for name in unknown:
        fail(f"{name} is not exported by the service (named by {', '.join(sorted(used[name]))})")
    if not unknown:
        ok(f"{len(used)} metric names used by {len(alerts)} alerts, {len(recorded)} recording rules and "
           f"{len(dashboards)} dashboard(s) are all exported ({len(exported)} series) or recorded")
    return alerts


def dashboard_queries(path):
    dashboard = json.loads(path.read_text())
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            yield panel.get("title"), target.get("expr", "")
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        if variable.get("type") == "query" and query:
            inner = re.search(r"label_values\((.*),\s*\w+\)$", query)
            if inner:
                yield f"variable {variable['name']}", inner.group(1)


def check_dashboard(path):
    try:
        dashboard = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        fail(f"{path.name} is not JSON: {err}")
        return
    problems = [f"no {key}" for key in ("uid", "title", "panels", "schemaVersion", "templating") if key not in dashboard]
    if dashboard.get("id") is not None:
        problems.append("`id` must be null to import into any Grafana")
    variables = {v["name"] for v in dashboard.get("templating", {}).get("list", [])}
    ids = [p.get("id") for p in dashboard.get("panels", [])]
    if len(ids) != len(set(ids)):
        problems.append("duplicate panel ids")
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            continue
        title = panel.get("title")
        if panel.get("datasource", {}).get("uid") != "${datasource}" or "datasource" not in variables:
            problems.append(f"panel '{title}' does not use the $datasource variable")
        if not panel.get("targets") or not all(t.get("expr") for t in panel["targets"]):
            problems.append(f"panel '{title}' has no query")
        grid = panel.get("gridPos", {})
        if not all(k in grid for k in ("h", "w", "x", "y")) or grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"panel '{title}' has a bad gridPos")
    wanted = ["http_requests_total", "http_request_duration_seconds_bucket", "db_pool_connections",
              "cache_requests_total", "auth_verifications_total", "auth_breaker_state", "outbox_oldest_pending_seconds"]
    exprs = " ".join(e for _, e in dashboard_queries(path))
    problems += [f"no panel shows {w}" for w in wanted if w not in exprs]
    for problem in problems:
        fail(f"{path.name}: {problem}")
    if not problems:
        ok(f"{path.name}: importable ({len(dashboard['panels'])} panels, datasource chosen at import)")


def check_alert_docs(alerts):
    """Each alert links its runbook section, which exists, and has a promtool test that expects it to fire."""
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
               for h in re.findall(r"^#+\s+(.*)$", RUNBOOK.read_text(), re.M)}
    tests = "\n".join(p.read_text() for p in RULE_TESTS.glob("*.yaml"))
    for alert in alerts:
        name = alert["alert"]
        url = alert.get("annotations", {}).get("runbook_url", "")
        anchor = url.rsplit("#", 1)[-1] if "#" in url else ""
        if not url.split("#")[0].endswith("docs/runbook.md") or anchor not in anchors:
            fail(f"{name}: runbook_url {url!r} does not point at a section of docs/runbook.md")
        elif not re.search(rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels", tests):
            fail(f"{name}: no promtool test in {RULE_TESTS.relative_to(ROOT)} expects it to fire")
        else:
            ok(f"{name}: runbook section #{anchor}, fired by a unit test")


def main(rendered_base, rendered_production):
    print("Kubernetes objects (schemas of Kubernetes %s)" % KUBERNETES_VERSION)
    base = load_all(rendered_base)
    production = load_all(rendered_production)
    secret_example = load_all(K8S / "base" / "secret.example.yaml")
    validate_objects("base", base)
    validate_objects("production", production)
    validate_objects("secret.example.yaml", secret_example)
    print("What the manifests promise")
    config = check_settings(base)
    check_deployment("base", base, config)
    check_deployment("production", production, by_kind(production, "ConfigMap").get("data", {}))
    print("Alerts, recording rules and dashboards")
    alerts = check_rules_and_dashboard(exported_metrics())
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        check_dashboard(path)
    check_alert_docs(alerts)
    if failures:
        print(f"deploy checks: {len(failures)} failed")
        return 1
    print("deploy checks: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
