/**
 * The example deployment files in deploy/ (systemd units and Kubernetes manifests) are never
 * run here, so this keeps them honest: every FLINKISH_* name they mention is a key of the
 * configuration (read from lib/config.ts at run time), each role's environment loads without
 * a configuration error, and secrets sit only in Secrets and the secrets file.
 * There is no YAML library: a line-based reader takes what these files use (documents split
 * by `---`, a ConfigMap's `data:`, a Secret's `stringData:`, containers' `- name:` / `value:`).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configKeys, envName, loadConfig, requireClientSecret, requireSecret } from '../../../lib/config.js';

/** deploy/ in the source tree (this file runs from dist/test/unit/deploy). */
const deployDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'deploy');

/** Settings that are credentials: never in a ConfigMap or the shared env file. */
const SECRET_KEYS = ['secret', 'clientSecret', 'restToken', 'etcdPassword'].map(envName).concat(['AWS_SECRET_ACCESS_KEY']);

type Env = Record<string, string>;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

interface YamlDoc {
  file: string;
  kind: string;
  name: string;
  /** A ConfigMap's data or a Secret's stringData. */
  data: Env;
  /** Containers' `env:` entries; a `valueFrom` counts as a pod-specific placeholder. */
  containerEnv: Env;
  text: string;
}

const unquote = (v: string) => v.trim().replace(/^"(.*)"$/, '$1');

function yamlDocs(file: string): YamlDoc[] {
  return readFileSync(file, 'utf8').split(/^---\s*$/m).map((text) => {
    const kind = /^kind:\s*(\S+)/m.exec(text)?.[1] ?? '';
    const name = /^metadata:\n\s+name:\s*(\S+)/m.exec(text)?.[1] ?? '';
    const lines = text.split('\n');
    const data: Env = {};
    const containerEnv: Env = {};
    let inData = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (/^(data|stringData):\s*$/.test(line)) inData = true;
      else if (/^\S/.test(line)) inData = false;
      const entry = /^ {2}([A-Za-z_][A-Za-z0-9_.]*):\s*(.*)$/.exec(line);
      if (inData && entry && entry[2] !== '|') data[entry[1]!] = unquote(entry[2]!);
      const named = /^\s*- name:\s*([A-Z][A-Z0-9_]*)\s*$/.exec(line);
      if (named) {
        const next = lines[i + 1] ?? '';
        const value = /^\s*value:\s*(.*)$/.exec(next);
        if (value) containerEnv[named[1]!] = unquote(value[1]!);
        else if (/^\s*valueFrom:/.test(next)) containerEnv[named[1]!] = '10.0.0.1'; // a pod's own (fieldRef): any address will do here
      }
    }
    return { file, kind, name, data, containerEnv, text };
  }).filter((d) => d.kind !== '');
}

function envFile(file: string): Env {
  const env: Env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** A pod's `$(VAR)` references, as Kubernetes expands them. */
function expand(env: Env): Env {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => env[name] ?? 'pod-0')]));
}

function loads(env: Env, what: string): void {
  try {
    const c = loadConfig({ env, flags: {} });
    requireSecret(c);
    requireClientSecret(c);
  } catch (err) {
    assert.fail(`${what}: ${(err as Error).message}`);
  }
}

describe('deploy - example systemd units and Kubernetes manifests', () => {
  const all = files(deployDir);
  const yaml = all.filter((f) => f.endsWith('.yaml')).flatMap(yamlDocs);

  it('mention only FLINKISH_* names that lib/config.ts has', () => {
    const known = new Set(configKeys().map(envName));
    const unknown: string[] = [];
    let mentioned = 0;
    for (const file of all) {
      for (const [name] of readFileSync(file, 'utf8').matchAll(/\bFLINKISH_[A-Z0-9_]+\b/g)) {
        mentioned++;
        if (!known.has(name)) unknown.push(`${path.relative(deployDir, file)}: ${name}`);
      }
    }
    assert.ok(mentioned > 20, `the reader found only ${mentioned} FLINKISH_* names in ${deployDir}`);
    assert.deepEqual(unknown, [], `not configuration keys (see README's configuration reference):\n${unknown.join('\n')}`);
  });

  it('Kubernetes: Masters are a StatefulSet with standbys, TaskExecutors a Deployment, each environment loads', () => {
    const config = yaml.find((d) => d.kind === 'ConfigMap' && d.name === 'flinkish-config');
    const secrets = yaml.find((d) => d.kind === 'Secret' && d.name === 'flinkish-secrets');
    assert.ok(config && secrets, 'the ConfigMap flinkish-config and the Secret flinkish-secrets');
    const masters = yaml.find((d) => d.kind === 'StatefulSet' && d.name === 'flinkish-master');
    const taskExecutors = yaml.find((d) => d.kind === 'Deployment' && d.name === 'flinkish-taskexecutor');
    assert.ok(masters && taskExecutors, 'the StatefulSet flinkish-master and the Deployment flinkish-taskexecutor');
    assert.ok(Number(/^\s+replicas:\s*(\d+)/m.exec(masters.text)?.[1]) >= 2, 'at least one standby Master');
    for (const pod of [masters, taskExecutors]) {
      for (const ref of ['configMapRef:\n                name: flinkish-config', 'secretRef:\n                name: flinkish-secrets']) {
        assert.ok(pod.text.includes(ref), `${pod.name} takes its environment from ${ref.replace(/\s+/g, ' ')}`);
      }
      assert.ok(pod.containerEnv['FLINKISH_ADVERTISED_HOST'], `${pod.name} advertises its own address`);
      loads(expand({ ...config.data, ...secrets.data, ...pod.containerEnv }), pod.name);
    }
    assert.ok(config.data['FLINKISH_ETCD_ENDPOINTS'] && config.data['FLINKISH_CHECKPOINT_DIR']?.startsWith('s3://'), 'etcd and the object store come from the ConfigMap');
  });

  it('keep credentials in Secrets and the secrets file only', () => {
    for (const d of yaml.filter((doc) => doc.kind !== 'Secret')) {
      const leaked = SECRET_KEYS.filter((k) => d.text.includes(k));
      assert.deepEqual(leaked, [], `${path.basename(d.file)} (${d.kind} ${d.name}) names credentials; they belong in a Secret`);
    }
    const shared = envFile(path.join(deployDir, 'systemd', 'flinkish.env'));
    assert.deepEqual(SECRET_KEYS.filter((k) => k in shared), [], 'flinkish.env holds no credentials');
    for (const unit of all.filter((f) => f.endsWith('.service'))) {
      const text = readFileSync(unit, 'utf8');
      assert.deepEqual(SECRET_KEYS.filter((k) => text.includes(k)), [], `${path.basename(unit)} names no credential`);
      assert.match(text, /^EnvironmentFile=\/etc\/flinkish\/secrets\.env$/m, `${path.basename(unit)} reads the secrets file`);
    }
  });

  it('systemd: each unit\'s environment loads', () => {
    const base = { ...envFile(path.join(deployDir, 'systemd', 'flinkish.env')), ...envFile(path.join(deployDir, 'systemd', 'secrets.env.example')) };
    for (const unit of all.filter((f) => f.endsWith('.service'))) {
      const own: Env = {};
      for (const [, key, value] of readFileSync(unit, 'utf8').matchAll(/^Environment=([A-Z][A-Z0-9_]*)=(.*)$/gm)) own[key!] = value!;
      assert.match(readFileSync(unit, 'utf8'), /^ExecStart=.*cli\.js (master|taskexecutor)$/m);
      loads({ ...base, ...own }, path.basename(unit));
    }
  });
});
