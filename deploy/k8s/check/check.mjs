// Checks deploy/k8s/*.yaml offline: every document against the schema of
// its kind (Kubernetes' own from kubernetes-models, CloudNativePG's from
// @kubernetes-models/cloudnative-pg), then what the platform relies on:
// two replicas or more, the three probes on their paths, a headless Service
// and a PodDisruptionBudget per Deployment, non-root containers, and a
// termination grace above the drain and shutdown grace. Which ports, peers
// and names each service has is registry_test's to check, against the
// service registry.
//
//   node deploy/k8s/check/check.mjs [DIR]   (npm ci --prefix deploy/k8s/check first)
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { Cluster } from "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Service } from "kubernetes-models/v1";
import { parseAllDocuments } from "yaml";

const models = {
  "apps/v1 Deployment": Deployment,
  "v1 Service": Service,
  "v1 ConfigMap": ConfigMap,
  "policy/v1 PodDisruptionBudget": PodDisruptionBudget,
  "postgresql.cnpg.io/v1 Cluster": Cluster,
};
const probes = {
  startupProbe: "/health/startup",
  livenessProbe: "/health/live",
  readinessProbe: "/health/ready",
};

let failures = 0;
const fail = (where, why) => {
  failures++;
  console.error(`${where}: ${why}`);
};

// The schemas must refuse a bad manifest, or a pass says nothing.
try {
  new Deployment({
    metadata: { name: "x" },
    spec: { selector: {}, template: { spec: { containers: [{ name: "x", ports: [{ containerPort: "grpc" }] }] } } },
  }).validate();
  fail("self-check", "a Deployment with a port named where a number belongs passed validation");
} catch {
  // as it should
}

const dir = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..");
const byKind = {};
let valid = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
  parseAllDocuments(readFileSync(join(dir, file), "utf8")).forEach((doc, i) => {
    const where = `${file} document ${i + 1}`;
    if (doc.errors.length > 0) return fail(where, doc.errors.map((e) => e.message).join("; "));
    const obj = doc.toJS();
    const model = models[`${obj.apiVersion} ${obj.kind}`];
    if (!model) return fail(where, `no schema here for ${obj.apiVersion} ${obj.kind}`);
    (byKind[obj.kind] ??= {})[obj.metadata?.name] = { where, obj };
    try {
      new model(obj).validate();
      valid++;
    } catch (e) {
      fail(`${where} (${obj.kind} ${obj.metadata?.name})`, e.message);
    }
  });
}

const config = Object.values(byKind.ConfigMap ?? {})[0]?.obj.data ?? {};
const drain = Number(config.SAGAWORKS_DRAIN_SECONDS ?? 2);
const grace = Number(config.SAGAWORKS_SHUTDOWN_GRACE_SECONDS ?? 10);
for (const [name, { where, obj }] of Object.entries(byKind.Deployment ?? {})) {
  const spec = obj.spec;
  const pod = spec.template.spec;
  const at = `${where} (Deployment ${name})`;
  if ((spec.replicas ?? 1) < 2) fail(at, "fewer than two replicas");
  if ((pod.terminationGracePeriodSeconds ?? 30) <= drain + grace) {
    fail(at, `terminationGracePeriodSeconds is not above drain ${drain} s + grace ${grace} s`);
  }
  if (pod.securityContext?.runAsNonRoot !== true) fail(at, "pods may run as root");
  for (const c of pod.containers) {
    for (const [probe, path] of Object.entries(probes)) {
      if (c[probe]?.httpGet?.path !== path) fail(at, `${c.name}: ${probe} is not GET ${path}`);
    }
  }
  const service = byKind.Service?.[name]?.obj;
  if (!service) fail(at, "no Service of the same name");
  else if (service.spec.clusterIP !== "None") fail(at, "its Service is not headless");
  const pdb = byKind.PodDisruptionBudget?.[name]?.obj;
  if (!pdb) fail(at, "no PodDisruptionBudget of the same name");
  const labels = spec.selector.matchLabels;
  for (const selector of [service?.spec.selector, pdb?.spec.selector.matchLabels]) {
    if (selector && JSON.stringify(selector) !== JSON.stringify(labels)) {
      fail(at, "a Service or PodDisruptionBudget selects other pods than the Deployment's");
    }
  }
}
if (!byKind.Cluster) fail(dir, "no CloudNativePG Cluster");

if (failures > 0) {
  console.error(`${failures} problem(s) in ${dir}`);
  process.exit(1);
}
console.log(`${valid} documents in ${dir} are valid`);
