#!/usr/bin/env python3
"""Cross-checks of deploy/ that no schema knows (run by scripts/check-deploy.sh).

Usage: check_deploy.py IMO_BINARY
Exits 1 naming every problem found.
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
problems = []


def problem(msg):
    problems.append(msg)


def load(path):
    with open(os.path.join(DEPLOY, path)) as f:
        return yaml.safe_load(f)


def load_all(path):
    with open(os.path.join(DEPLOY, path)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def imo_config(imo, env, toml_text=None):
    """Loads a config through the real binary (`imo config`): unknown keys and bad values fail."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("IMO_")}
    full["RUST_BACKTRACE"] = "0"
    full.update(env)
    with tempfile.TemporaryDirectory() as tmp:
        if toml_text is not None:
            path = os.path.join(tmp, "imo.toml")
            with open(path, "w") as f:
                f.write(toml_text)
            full["IMO_CONFIG"] = path
        else:
            full.pop("IMO_CONFIG", None)
        r = subprocess.run([imo, "config"], env=full, capture_output=True, text=True, cwd=tmp)
    return r.returncode, r.stdout + r.stderr


def exported_metrics():
    names = set()
    for base in ("oracle/src", "api/src"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, base)):
            for name in files:
                if name.endswith(".rs"):
                    with open(os.path.join(dirpath, name)) as f:
                        names.update(re.findall(r'metrics::(?:gauge|counter|histogram)!\(\s*"([a-z_]+)"', f.read()))
    return names


def check_kustomization():
    k = load("k8s/kustomization.yaml")
    listed = set(k.get("resources", []))
    present = {f for f in os.listdir(os.path.join(DEPLOY, "k8s"))
               if f.endswith(".yaml") and f not in ("kustomization.yaml", "secret.example.yaml")}
    for f in sorted(listed - present):
        problem(f"k8s/kustomization.yaml lists {f}, which does not exist")
    for f in sorted(present - listed):
        problem(f"k8s/{f} is not listed in k8s/kustomization.yaml")


def check_k8s(imo):
    docs = {}
    for f in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
        if f.endswith(".yaml") and f != "kustomization.yaml":
            for d in load_all(f"k8s/{f}"):
                docs[(d["kind"], d["metadata"]["name"])] = d
    dep = docs[("Deployment", "imo")]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if dep["spec"]["selector"]["matchLabels"].items() - labels.items():
        problem("the Deployment's selector does not match its pod labels")
    for kind in ("Service", "PodDisruptionBudget"):
        d = next(v for (k, _), v in docs.items() if k == kind)
        sel = d["spec"]["selector"]
        sel = sel.get("matchLabels", sel)
        if sel.items() - labels.items():
            problem(f"the {kind}'s selector does not select the Deployment's pods")
    hpa = docs[("HorizontalPodAutoscaler", "imo")]
    if hpa["spec"]["scaleTargetRef"]["name"] != "imo":
        problem("the HPA does not target the Deployment")
    metrics = exported_metrics()
    for m in hpa["spec"]["metrics"]:
        if m["type"] == "Pods" and m["pods"]["metric"]["name"] not in metrics:
            problem(f"the HPA scales on {m['pods']['metric']['name']}, which the service does not export")
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe not in c:
            problem(f"the imo container has no {probe}")
    if "requests" not in c.get("resources", {}):
        problem("the imo container has no resource requests")
    if not pod["securityContext"].get("runAsNonRoot"):
        problem("the pod may run as root")
    cm = docs[("ConfigMap", "imo-config")]
    secret = docs[("Secret", "imo-secrets")]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for m in c["volumeMounts"]:
        if m["name"] not in volumes:
            problem(f"the volume mount {m['name']} has no volume")
    for v in volumes.values():
        if "configMap" in v and v["configMap"]["name"] != "imo-config":
            problem(f"volume {v['name']} names a ConfigMap that is not deployed")
        if "secret" in v:
            for item in v["secret"].get("items", []):
                if item["key"] not in secret["stringData"]:
                    problem(f"volume {v['name']} reads key {item['key']} the Secret does not have")
        if "persistentVolumeClaim" in v and ("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]) not in docs:
            problem(f"volume {v['name']} claims a PVC that is not deployed")
    for container in pod.get("initContainers", []) + pod["containers"]:
        env = {}
        for e in container.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "secretKeyRef" in e.get("valueFrom", {}):
                ref = e["valueFrom"]["secretKeyRef"]
                if ref["key"] not in secret["stringData"]:
                    problem(f"{container['name']}: {e['name']} reads key {ref['key']} the Secret does not have")
                env[e["name"]] = secret["stringData"].get(ref["key"], "")
            else:
                env[e["name"]] = "replica-from-downward-api"
        env.pop("IMO_CONFIG", None)
        rc, out = imo_config(imo, env, cm["data"]["imo.toml"])
        if rc != 0:
            problem(f"k8s {container['name']}: imo.toml of the ConfigMap with the container's env is not a valid config:\n{out}")


def check_compose(imo):
    c = load("compose/compose.yaml")
    services = c["services"]
    for name, s in services.items():
        if "image" not in s and "build" not in s:
            problem(f"compose service {name} has neither image nor build")
        for dep in s.get("depends_on", {}):
            if dep not in services:
                problem(f"compose service {name} depends on unknown service {dep}")
        for sec in s.get("secrets", []):
            if sec not in c.get("secrets", {}):
                problem(f"compose service {name} uses undeclared secret {sec}")
        for vol in s.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("."):
                if not os.path.exists(os.path.join(DEPLOY, "compose", src)):
                    problem(f"compose service {name} mounts {src}, which does not exist")
            elif src not in c.get("volumes", {}):
                problem(f"compose service {name} uses undeclared volume {src}")
    for name, sec in c.get("secrets", {}).items():
        if not os.path.exists(os.path.join(DEPLOY, "compose", sec["file"])):
            problem(f"compose secret {name}: {sec['file']} does not exist")
    replicas = sorted(n for n, s in services.items() if s.get("command") == ["serve"])
    if len(replicas) < 2:
        problem(f"compose runs {len(replicas)} imo replica(s), not two")
    ids = [services[r]["environment"].get("IMO_CLUSTER_REPLICA_ID") for r in replicas]
    if len(set(ids)) != len(ids):
        problem("compose replicas share a cluster replica id")
    prom = load("compose/prometheus.yml")
    targets = {t for sc in prom["scrape_configs"] for st in sc["static_configs"] for t in st["targets"]}
    for r in replicas:
        if f"{r}:8080" not in targets:
            problem(f"Prometheus does not scrape replica {r}")
        hc = services[r].get("healthcheck", {}).get("test", [])
        if hc[:3] != ["CMD", "imo", "health"]:
            problem(f"compose replica {r} has no `imo health` check")
        env = dict(services[r]["environment"])
        env["IMO_METERING_OPERATOR_KEY_FILE"] = os.path.join(DEPLOY, "compose", "operator.key.example")
        rc, out = imo_config(imo, env)
        if rc != 0:
            problem(f"compose {r}: its IMO_* environment is not a valid config:\n{out}")


def check_dockerfile():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        docker = f.read()
    with open(os.path.join(ROOT, "scripts", "install-tools.sh")) as f:
        tools = f.read()
    pinned = re.search(r"^ORT_VERSION=(\S+)", tools, re.M).group(1)
    theirs = re.search(r"^ARG ORT_VERSION=(\S+)", docker, re.M)
    if not theirs or theirs.group(1) != pinned:
        problem(f"deploy/Dockerfile's ORT_VERSION is not the pinned {pinned}")
    if not re.search(r"^USER (?!root|0\b)", docker, re.M):
        problem("deploy/Dockerfile does not switch to a non-root user")
    if "HEALTHCHECK" not in docker:
        problem("deploy/Dockerfile has no HEALTHCHECK")


def main():
    imo = sys.argv[1]
    if not os.access(imo, os.X_OK):
        sys.exit(f"error: {imo} is not an executable imo binary (cargo build --bin imo)")
    check_kustomization()
    check_k8s(imo)
    check_compose(imo)
    check_dockerfile()
    for p in problems:
        print(f"deploy: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print("deploy cross-checks: 0 problems")


main()
