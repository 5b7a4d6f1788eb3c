#!/usr/bin/env python3
"""Static checks that production has no development secrets.

docker-compose.prod.yml (the complete production file at the repository
root, which scripts/compose-prod makes) must leave no password with a
default: every password the merged configuration of a
service interpolates is `${NAME:?message}` (compose stops before starting
anything when it is unset or empty), no development password appears
literally, Redis asks for a password, and every tradebus container runs
with TB_ENV=production. The image's entry point (infra/docker-entrypoint.sh)
is run with TB_ENV=production: development passwords, a URL without a
password and a missing URL are refused with exit status 2 and a message
naming the variable; real passwords start the command.

Run by ctest (label unit) as `python3 tests/static/test_prod_secrets.py`;
needs python3-yaml (scripts/setup installs it) and bash.
"""
import os
import re
import subprocess
import unittest

import yaml

ROOT = os.environ.get("TB_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
INFRA = os.path.join(ROOT, "infra")
PROD = os.path.join(ROOT, "docker-compose.prod.yml")
ENTRYPOINT = os.path.join(INFRA, "docker-entrypoint.sh")

DEV_PASSWORDS = ("tradebus-compose", "tradebus-local", "sys-compose", "sys-local")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN")
# ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?x}, ${NAME?x}; $$ is compose's escape.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?")


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return env


def strings(value):
    """Every string inside a YAML value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def is_tradebus(svc):
    return "build" in svc or (svc.get("image") or "").split(":")[0] == "tradebus"


class ProdCompose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(PROD, encoding="utf-8") as f:
            cls.services = yaml.safe_load(f)["services"]

    def test_every_password_must_be_given(self):
        seen = set()
        for name, svc in self.services.items():
            for text in strings({k: svc.get(k) for k in ("environment", "command", "healthcheck")}):
                for var, op in INTERPOLATION.findall(text):
                    if not SECRET_NAME.search(var):
                        continue
                    seen.add(var)
                    with self.subTest(service=name, var=var):
                        self.assertEqual(op, ":?", "%s of %s has a default or may be empty in "
                                         "production: use ${%s:?message}" % (var, name, var))
        for var in ("NATS_PASSWORD", "NATS_SYS_PASSWORD", "POSTGRES_PASSWORD", "REDIS_PASSWORD",
                    "GRAFANA_ADMIN_PASSWORD"):
            self.assertIn(var, seen)

    def test_no_development_password_in_prod_file(self):
        with open(PROD, encoding="utf-8") as f:
            text = "\n".join(line.split("#", 1)[0] for line in f)
        for pw in DEV_PASSWORDS:
            self.assertNotIn(pw, text)

    def test_urls_carry_passwords(self):
        for name, svc in self.services.items():
            if not is_tradebus(svc):
                continue
            env = environment(svc)
            with self.subTest(service=name):
                self.assertEqual(env.get("TB_ENV"), "production")
                for var, pw in (("NATS_URL", "NATS_PASSWORD"), ("DATABASE_URL", "POSTGRES_PASSWORD"),
                                ("REDIS_URL", "REDIS_PASSWORD")):
                    self.assertRegex(env.get(var) or "", r":\$\{%s:\?[^}]+\}@" % pw, var)

    def test_redis_requires_a_password(self):
        redis = self.services["redis"]
        cmd = redis.get("command") or []
        self.assertIn("--requirepass", cmd)
        self.assertRegex(cmd[cmd.index("--requirepass") + 1], r"^\$\{REDIS_PASSWORD:\?")
        test = " ".join(redis["healthcheck"]["test"])
        self.assertIn("REDIS_PASSWORD", test, "the health check must authenticate")


GOOD = {
    "NATS_URL": "nats://tradebus:n-7f3a@nats:4222",
    "DATABASE_URL": "postgresql://tradebus:p-91c2@postgres:5432/tradebus",
    "REDIS_URL": "redis://:r-55d0@redis:6379/0",
}


def entrypoint(env, *args):
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "INSTANCE_ID": "test"}
    full.update(env)
    return subprocess.run(["bash", ENTRYPOINT] + list(args), env=full, capture_output=True,
                          text=True, timeout=30)


class EntryPoint(unittest.TestCase):
    def test_production_refuses_development_passwords(self):
        for var in GOOD:
            for pw in DEV_PASSWORDS:
                env = dict(GOOD, TB_ENV="production")
                env[var] = re.sub(r"(://[^:/@]*:)[^@]*@", r"\g<1>%s@" % pw, env[var])
                with self.subTest(var=var, password=pw):
                    r = entrypoint(env, "true")
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(var, r.stderr)
                    self.assertIn(pw, r.stderr)

    def test_production_refuses_missing_or_passwordless_urls(self):
        for var in GOOD:
            env = dict(GOOD, TB_ENV="production")
            del env[var]
            with self.subTest(var=var, case="unset"):
                r = entrypoint(env, "true")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("%s is not set" % var, r.stderr)
            env = dict(GOOD, TB_ENV="production")
            env[var] = re.sub(r"://[^@]*@", "://", env[var])
            with self.subTest(var=var, case="no password"):
                r = entrypoint(env, "true")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("%s has no password" % var, r.stderr)

    def test_production_starts_with_real_passwords(self):
        r = entrypoint(dict(GOOD, TB_ENV="production"), "echo", "started")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "started")

    def test_development_is_not_checked(self):
        env = dict(GOOD, NATS_URL="nats://tradebus:tradebus-compose@nats:4222")
        r = entrypoint(env, "echo", "started")
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=1)
