#!/usr/bin/env python3
"""Static checks of the container setup (there is no Docker engine to run it).

docker-compose.yml and docker-compose.prod.yml (at the repository root) must
parse as plain YAML with neither Compose v2-only syntax (top-level `name`,
`!reset` / `!override` tags, `include`) nor a version key, so that Compose v2
and Debian's docker-compose 1.29 both read them, and describe the platform of
DESIGN §1: every service with its command, health check and depends_on
conditions, scalable (no container_name, no host ports on workers); prod is
what scripts/compose-prod makes of docker-compose.yml and
infra/compose/production.yml, adds restart policies, limits and replicas
and publishes no port but the gateway's. infra/docker-compose.offline.yml
(scripts/compose-check) replaces only the servers' images with local builds
and keeps Grafana out. Every environment variable the compose files set
or .env.example lists is one something reads: the tradebus code (C sources,
scripts), the third-party image (postgres POSTGRES_*, grafana GF_*) or a
file mounted into that container. .env.example lists every setting the C
code reads and every variable the compose files interpolate. Prometheus and
Grafana provisioning parse, point at services and datasources that exist and
query metric names the code exports.

Run by ctest (label unit) as `python3 tests/static/test_compose.py`; needs
python3-yaml (scripts/setup installs it).
"""
import json
import os
import re
import sys
import subprocess
import unittest

import yaml

ROOT = os.environ.get("TB_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
INFRA = os.path.join(ROOT, "infra")
BASE = os.path.join(ROOT, "docker-compose.yml")
PROD = os.path.join(ROOT, "docker-compose.prod.yml")
OFFLINE = os.path.join(INFRA, "docker-compose.offline.yml")
ENV_EXAMPLE = os.path.join(ROOT, ".env.example")

GATEWAY = "api-gateway"
SERVERS = {"nats", "postgres", "redis"}
# Variables third-party images read themselves, by image name.
IMAGE_ENV = {
    "postgres": re.compile(r"^POSTGRES_(USER|PASSWORD|DB|INITDB_ARGS|HOST_AUTH_METHOD)$|^PGDATA$"),
    "grafana/grafana": re.compile(r"^GF_[A-Z0-9_]+$"),
    "influxdb": re.compile(r"^INFLUXDB_[A-Z0-9_]+$"),
}
# Docker Compose's own variables (allowed in .env).
COMPOSE_OWN = re.compile(r"^COMPOSE_[A-Z_]+$")
# Read by test programs only, never by a deployed process.
TEST_ONLY = re.compile(r"^(TB_T_|TEST_|TB_FUZZ_|CK_)|^(TB_BINARY_DIR|TB_SOURCE_DIR)$")


def load_yaml(path):
    """Plain YAML, as docker-compose 1.29 reads it (PyYAML's safe loader
    rejects Compose v2's `!reset` and `!override` tags)."""
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def design_services():
    """Service names of DESIGN §1 (its table's first column), from
    ../shared/DESIGN.md when present, else the runner's list in
    scripts/lib.sh plus the gateway."""
    for path in (os.path.join(ROOT, "..", "shared", "DESIGN.md"),
                 os.path.join(ROOT, "DESIGN.md")):
        if os.path.exists(path):
            text = read(path)
            section = text.split("## 1.", 1)[1].split("\n## ", 1)[0]
            names = re.findall(r"^\| *([a-z][a-z-]+) *(?:\([^|]*\))? *\|", section, re.M)
            names = [n for n in names if n != "service"]
            if names:
                return names
    lib = read(os.path.join(ROOT, "scripts", "lib.sh"))
    m = re.search(r"TB_SERVICES=\(([^)]*)\)", lib)
    return m.group(1).split() + [GATEWAY]


def source_files(dirs, exts):
    for d in dirs:
        top = os.path.join(ROOT, d)
        if os.path.isfile(top):
            yield top
            continue
        for base, subdirs, files in os.walk(top):
            subdirs[:] = [s for s in subdirs if not s.startswith("build")]
            for name in files:
                if exts is None or os.path.splitext(name)[1] in exts:
                    yield os.path.join(base, name)


ENV_CALL = re.compile(r"\b(getenv|secure_getenv|bus_env|bus_env_int|bus_env_bool)\s*\(")
ENV_LITERAL_CALL = re.compile(
    r"\b(?:getenv|secure_getenv|bus_env|bus_env_int|bus_env_bool|env_[a-z0-9_]+)\s*\(\s*\"([A-Z][A-Z0-9_]*)\"")
ENV_TABLE_ENTRY = re.compile(r"\{\s*\"([A-Z][A-Z0-9]*_[A-Z0-9_]+)\"\s*,")
UPPER_LITERAL = re.compile(r"\"([A-Z][A-Z0-9]*_[A-Z0-9_]+)\"")


def c_env_names():
    """(strict, lenient) names the C code reads. strict: literal arguments of
    getenv / bus_env* / env_* wrappers and setting tables; lenient adds every
    upper-case literal of a file that reads the environment (wrappers that
    take the name as a parameter)."""
    strict, lenient = set(), set()
    for path in source_files(["bus", "actors", "gateway", "tools", "schemas"], {".c", ".h"}):
        text = read(path)
        if not ENV_CALL.search(text) and "env_" not in text:
            continue
        strict.update(ENV_LITERAL_CALL.findall(text))
        if ENV_CALL.search(text):
            strict.update(ENV_TABLE_ENTRY.findall(text))
            lenient.update(UPPER_LITERAL.findall(text))
    strict = {n for n in strict if not TEST_ONLY.search(n)}
    return strict, lenient | strict


SHELL_VAR = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")


def shell_env_names():
    """Names the scripts and the image's entry point read: $NAME, ${NAME...}
    and the families built at run time (WORKERS_<service>)."""
    names, prefixes = set(), set()
    files = list(source_files(["scripts"], None)) + [os.path.join(INFRA, "docker-entrypoint.sh")]
    for path in files:
        text = read(path)
        names.update(SHELL_VAR.findall(text))
        names.update(re.findall(r"\b([A-Z][A-Z0-9_]+)=\$\{\1:-", text))
        for prefix in re.findall(r"\b([A-Z][A-Z0-9]*_)\$", text):
            prefixes.add(prefix)
    return names, prefixes


def env_example():
    """Names in .env.example: set (NAME=) and documented (# NAME=)."""
    active, documented = {}, set()
    for line in read(ENV_EXAMPLE).splitlines():
        m = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            active[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^# ([A-Z][A-Za-z0-9_]*)=", line)
        if m:
            documented.add(m.group(1))
    return active, documented


INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")


def interpolated(path):
    return set(INTERPOLATION.findall(read(path)))


def image_of(svc):
    return (svc.get("image") or "").split(":")[0]


def is_tradebus(svc):
    return "build" in svc or image_of(svc) == "tradebus"


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


def mounted_files(svc):
    """Host paths (files, or every file of a folder) bind-mounted into svc."""
    out = []
    for v in svc.get("volumes") or []:
        src = v.split(":", 1)[0] if isinstance(v, str) else v.get("source", "")
        if not src.startswith("."):
            continue
        path = os.path.normpath(os.path.join(ROOT, src))
        if os.path.isdir(path):
            out.extend(source_files([os.path.relpath(path, ROOT)], None))
        else:
            out.append(path)
    return out


class Compose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = load_yaml(BASE)
        cls.prod = load_yaml(PROD)
        cls.services = cls.base["services"]
        cls.prod_services = cls.prod.get("services") or {}
        cls.design = design_services()

    def test_design_services_present_with_command_and_health(self):
        self.assertGreaterEqual(len(self.design), 9, self.design)
        entry = read(os.path.join(INFRA, "docker-entrypoint.sh"))
        for name in self.design:
            with self.subTest(service=name):
                self.assertIn(name, self.services, "DESIGN §1 service missing from compose")
                svc = self.services[name]
                cmd = svc.get("command")
                self.assertTrue(isinstance(cmd, list) and cmd, "no command")
                self.assertIn(cmd[0], (name, "gateway"))
                # The entry point knows the command word.
                self.assertRegex(entry, r"(^|[ |(])%s([ |)])" % re.escape(cmd[0]))
                self.assertTrue(is_tradebus(svc), "not built from infra/Dockerfile")
                test = (svc.get("healthcheck") or {}).get("test")
                self.assertTrue(test, "no health check")
                self.assertIn(name if name != GATEWAY else GATEWAY, " ".join(test))
                dep = svc.get("depends_on")
                self.assertIsInstance(dep, dict, "depends_on must use conditions")
                for server in SERVERS:
                    self.assertEqual(dep.get(server, {}).get("condition"), "service_healthy", server)
                self.assertEqual(dep.get("migrate", {}).get("condition"),
                                 "service_completed_successfully")

    def test_servers_and_monitoring(self):
        for name in SERVERS | {"prometheus", "grafana", "migrate"}:
            self.assertIn(name, self.services)
        nats = self.services["nats"]
        self.assertIn("-c", nats["command"])
        self.assertTrue(any(v.startswith("nats-data:") for v in nats["volumes"]), "JetStream volume")
        conf = [p for p in mounted_files(nats) if p.endswith(".conf")]
        self.assertEqual(len(conf), 1, "one NATS config file mounted")
        text = re.sub(r"#.*", "", read(conf[0]))
        self.assertRegex(text, r"jetstream\s*\{")
        self.assertRegex(text, r"accounts\s*\{")
        self.assertIsNone(re.search(r"^\s*authorization\s*[{:]", text, re.M),
                          "top-level authorization block (CVE-2023-47090)")
        self.assertNotIn("no_auth_user", text)
        self.assertEqual(self.services["migrate"]["command"], ["migrate"])
        self.assertEqual(self.services["migrate"].get("restart"), "no")

    def test_depends_on_targets_and_conditions(self):
        allowed = {"service_started", "service_healthy", "service_completed_successfully"}
        for name, svc in self.services.items():
            for target, spec in (svc.get("depends_on") or {}).items():
                with self.subTest(service=name, target=target):
                    self.assertIn(target, self.services)
                    self.assertIn(spec.get("condition"), allowed)
                    if spec["condition"] == "service_healthy":
                        self.assertIn("healthcheck", self.services[target])

    def test_workers_scale(self):
        for name, svc in self.services.items():
            with self.subTest(service=name):
                self.assertNotIn("container_name", svc, "container_name prevents --scale")
                if name not in (GATEWAY, "prometheus", "grafana"):
                    self.assertFalse(svc.get("ports"), "a worker publishes a host port")
        for name in self.design:
            if name != GATEWAY:
                self.assertNotIn("hostname", self.services[name])

    def test_files_referenced_exist(self):
        for name, svc in self.services.items():
            build = svc.get("build")
            if build:
                ctx = os.path.normpath(os.path.join(ROOT, build["context"]))
                self.assertTrue(os.path.isfile(os.path.join(ctx, build["dockerfile"])), name)
            for v in svc.get("volumes") or []:
                src = v.split(":", 1)[0]
                if src.startswith("."):
                    self.assertTrue(os.path.exists(os.path.join(ROOT, src)), "%s: %s" % (name, src))
                else:
                    self.assertIn(src, self.base.get("volumes") or {}, "%s: volume %s" % (name, src))

    def test_both_compose_versions_read_the_files(self):
        for path in (BASE, PROD, OFFLINE):
            with self.subTest(file=os.path.relpath(path, ROOT)):
                doc = load_yaml(path)  # the safe loader fails on !reset / !override
                self.assertNotIn("name", doc, "top-level name: docker-compose 1.29 refuses it")
                self.assertNotIn("include", doc, "include: docker-compose 1.29 refuses it")
                self.assertNotIn("version", doc, "version: obsolete in Compose v2")

    def test_offline_override(self):
        offline = load_yaml(OFFLINE)["services"]
        dockerfile = os.path.join(INFRA, "offline", "Dockerfile")
        stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", read(dockerfile), re.M | re.I))
        third_party = {n for n, s in self.services.items()
                       if not is_tradebus(s) and n != "grafana"}
        self.assertEqual(set(offline) - {"grafana"}, third_party,
                         "every server image, and nothing else, is built locally")
        for name in third_party:
            with self.subTest(service=name):
                svc = offline[name]
                self.assertEqual(set(svc), {"image", "build"}, "only the image changes")
                build = svc["build"]
                self.assertTrue(os.path.isfile(os.path.join(ROOT, build["context"], build["dockerfile"])))
                self.assertIn(build["target"], stages)
                self.assertNotIn("/", svc["image"].split(":")[0], "a registry name would be pulled")
        self.assertEqual(offline["grafana"], {"profiles": ["grafana"]},
                         "Grafana (no Debian package) stays out of the offline run")
        for path in re.findall(r"^COPY\s+(\S+)", read(dockerfile), re.M):
            self.assertTrue(os.path.isfile(os.path.join(INFRA, "offline", path)), path)

    def test_prod_is_generated_from_base(self):
        r = subprocess.run([os.path.join(ROOT, "scripts", "compose-prod"), "--check"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_prod_overrides(self):
        self.assertEqual(list(self.prod_services), list(self.services),
                         "prod runs exactly the base's services")
        for name, svc in self.services.items():
            with self.subTest(service=name):
                ports = self.prod_services[name].get("ports") or []
                if name == GATEWAY:
                    self.assertTrue(ports, "the gateway must stay published")
                else:
                    self.assertFalse(ports, "prod publishes an internal port")
                if "profiles" in svc:
                    continue
                p = self.prod_services.get(name)
                self.assertIsNotNone(p, "no prod settings")
                self.assertIn(p.get("restart"), ("no",) if name == "migrate"
                              else ("unless-stopped", "always", "on-failure"))
                limits = ((p.get("deploy") or {}).get("resources") or {}).get("limits") or {}
                self.assertIn("memory", limits)
                self.assertIn("cpus", limits)
        replicas = {n: (self.prod_services[n].get("deploy") or {}).get("replicas")
                    for n in self.design}
        self.assertTrue(all(isinstance(r, int) and r >= 1 for r in replicas.values()), replicas)
        self.assertTrue(any(r > 1 for r in replicas.values()), "no service runs several replicas")


class Environment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.strict, cls.c_names = c_env_names()
        cls.sh_names, cls.sh_prefixes = shell_env_names()
        cls.active, cls.documented = env_example()
        cls.base = load_yaml(BASE)
        cls.prod = load_yaml(PROD)
        cls.interp = interpolated(BASE) | interpolated(PROD) | interpolated(OFFLINE)

    def read_by_code(self, name):
        return (name in self.c_names or name in self.sh_names
                or any(name.startswith(p) for p in self.sh_prefixes))

    def test_compose_sets_only_variables_something_reads(self):
        for doc in (self.base, self.prod):
            for name, svc in (doc.get("services") or {}).items():
                base_svc = self.base["services"][name]
                mounted = "".join(read(p) for p in mounted_files(base_svc))
                for var in environment(svc):
                    with self.subTest(service=name, var=var):
                        if is_tradebus(base_svc):
                            self.assertTrue(self.read_by_code(var),
                                            "no tradebus code reads %s" % var)
                        else:
                            pat = IMAGE_ENV.get(image_of(base_svc))
                            ok = (pat and pat.search(var)) or re.search(
                                r"\$\{?%s\b" % re.escape(var), mounted)
                            self.assertTrue(ok, "%s is read neither by the %s image nor by a "
                                            "file mounted into it" % (var, image_of(base_svc)))

    def test_env_example_lists_only_used_variables(self):
        for var in set(self.active) | self.documented:
            with self.subTest(var=var):
                self.assertTrue(self.read_by_code(var) or var in self.interp
                                or COMPOSE_OWN.search(var),
                                "%s in .env.example is read by nothing" % var)

    def test_env_example_lists_every_setting(self):
        listed = set(self.active) | self.documented
        missing = sorted(n for n in self.strict | self.interp if n not in listed)
        self.assertEqual(missing, [], "add `# NAME=<default>` lines to .env.example for these")

    def test_shared_settings(self):
        for var in ("NATS_URL", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "GATEWAY_PORT"):
            self.assertIn(var, self.c_names)
            self.assertIn(var, set(self.active) | self.documented)
        compose_file = self.active.get("COMPOSE_FILE", "")
        for f in compose_file.split(":"):
            self.assertTrue(os.path.isfile(os.path.join(ROOT, f)), compose_file)


def exported_metrics():
    """Metric family names the code registers (histograms add _bucket,
    _sum, _count)."""
    names = set()
    pat = re.compile(r"bus_metrics_(counter|gauge|histogram)\s*\([^,]*,\s*\"([a-z_:][a-z0-9_:]*)\"")
    for path in source_files(["bus", "actors", "gateway"], {".c"}):
        for kind, name in pat.findall(read(path)):
            names.add(name)
            if kind == "histogram":
                names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


class Monitoring(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = load_yaml(BASE)

    def test_prometheus_scrapes_the_gateway(self):
        prom = load_yaml(os.path.join(INFRA, "prometheus", "prometheus.yml"))
        gw = self.base["services"][GATEWAY]
        port = str(environment(gw).get("GATEWAY_PORT"))
        targets = [(job.get("metrics_path", "/metrics"), t)
                   for job in prom["scrape_configs"]
                   for sc in job.get("static_configs", []) for t in sc["targets"]]
        self.assertIn(("/metrics", "%s:%s" % (GATEWAY, port)), targets)
        for _, t in targets:
            host = t.split(":")[0]
            self.assertTrue(host in self.base["services"] or host in ("127.0.0.1", "localhost"), t)

    def test_grafana_provisioning(self):
        graf = self.base["services"]["grafana"]
        prov = os.path.join(INFRA, "grafana", "provisioning")
        uids = {}
        for path in source_files([os.path.relpath(os.path.join(prov, "datasources"), ROOT)], {".yml", ".yaml"}):
            for ds in load_yaml(path).get("datasources", []):
                uids[ds["uid"]] = ds
                host = ds["url"].split("//")[-1].split(":")[0]
                self.assertIn(host, self.base["services"], ds["name"])
        self.assertIn("prometheus", {d["type"] for d in uids.values()})
        providers = []
        for path in source_files([os.path.relpath(os.path.join(prov, "dashboards"), ROOT)], {".yml", ".yaml"}):
            providers += load_yaml(path).get("providers", [])
        self.assertTrue(providers)
        targets = {v.split(":")[1]: v.split(":")[0] for v in graf["volumes"] if v.startswith(".")}
        for p in providers:
            src = targets.get(p["options"]["path"])
            self.assertIsNotNone(src, "provider path %s is not mounted" % p["options"]["path"])
            self.assertTrue(os.listdir(os.path.join(ROOT, src)))

    def test_dashboard(self):
        metrics = exported_metrics()
        self.assertIn("tb_messages_total", metrics)
        folder = os.path.join(INFRA, "grafana", "dashboards")
        ds_uids = set()
        for path in source_files([os.path.relpath(os.path.join(INFRA, "grafana", "provisioning", "datasources"), ROOT)], {".yml"}):
            ds_uids |= {d["uid"] for d in load_yaml(path).get("datasources", [])}
        titles = []
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                dash = json.load(f)
            self.assertTrue(dash.get("uid") and dash.get("title"))
            for panel in dash["panels"]:
                titles.append(panel["title"].lower())
                if panel["type"] == "row":
                    continue
                self.assertIn(panel["datasource"]["uid"], ds_uids, panel["title"])
                for t in panel["targets"]:
                    for m in re.findall(r"\b(tb_[a-z0-9_]+)", t.get("expr", "")):
                        self.assertIn(m, metrics, "%s: no code exports %s" % (panel["title"], m))
        for topic in ("response times", "availability", "database", "error", "ticks/s",
                      "orders by outcome", "fills", "rejections", "p&l"):
            self.assertTrue(any(topic in t for t in titles), "no panel about %s" % topic)


class Image(unittest.TestCase):
    def test_dockerfile(self):
        text = read(os.path.join(INFRA, "Dockerfile"))
        froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
        self.assertEqual(froms[0], "debian:12")
        self.assertEqual(froms[-1], "debian:12-slim")
        runtime = text.rsplit("FROM ", 1)[1]
        self.assertNotIn("-dev", runtime, "the runtime stage installs -dev packages")
        users = re.findall(r"^USER\s+(\S+)", runtime, re.M)
        self.assertTrue(users and users[-1] not in ("root", "0"), "runs as root")
        self.assertRegex(runtime, r"ENTRYPOINT")
        for lib in ("libnats3.4", "libmsgpackc2", "libpq5", "libhiredis0.14", "libcivetweb1",
                    "libjansson4", "libcurl4", "libssl3"):
            self.assertIn(lib, runtime)


if __name__ == "__main__":
    unittest.main(verbosity=2)
