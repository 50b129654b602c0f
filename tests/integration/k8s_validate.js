// k8s_validate.js MODULES_DIR < rendered.yaml: validates every object of a YAML stream against
// the Kubernetes schemas of the npm package kubernetes-models (its own validate()), then walks each
// object against the package's type declarations and reports every key that no schema defines
// (validate() lets unknown keys through; the API server would drop them, silently). Prints JSON:
// {"objects": [...], "errors": ["Kind/name: ..."]}.
"use strict";
const fs = require("fs");
const path = require("path");

const modules = path.resolve(process.argv[2]);
const need = (name) => require(require.resolve(name, { paths: [modules] }));
const yaml = need("js-yaml");
const root = path.dirname(require.resolve("kubernetes-models/package.json", { paths: [modules] }));

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  return path.join(root, group, version, kind);
}

// The properties of the interface a .d.ts declares: {name: type}, and its imports: {type: file}.
const declarations = new Map();
function declaration(file) {
  if (!declarations.has(file)) {
    const text = fs.readFileSync(file + ".d.ts", "utf8");
    const imports = {};
    for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
      const target = m[2].startsWith(".")
        ? path.resolve(path.dirname(file), m[2])
        : require.resolve(m[2], { paths: [modules] }).replace(/\.js$/, "");
      imports[m[1]] = target;
    }
    const body = text.match(/export interface \w+(?: extends \w+)? \{\n([\s\S]*?)\n\}/);
    const props = {};
    if (body)
      // A field per line at the interface's indentation; maps ("labels"?: {) open a block.
      for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm))
        props[m[1]] = m[2].startsWith("{") ? "map" : m[2];
    declarations.set(file, { props, imports });
  }
  return declarations.get(file);
}

function walk(value, file, where, errors) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return;
  const { props, imports } = declaration(file);
  for (const [key, child] of Object.entries(value)) {
    if (!(key in props)) {
      errors.push(`${where}.${key}: not a field of ${path.basename(file)}`);
      continue;
    }
    const type = props[key].replace(/^Array<(.+)>$/, "$1");
    if (!imports[type]) continue; // a scalar, a map of strings, IntOrString, Quantity...
    const items = Array.isArray(child) ? child : [child];
    items.forEach((item, i) =>
      walk(item, imports[type], Array.isArray(child) ? `${where}.${key}[${i}]` : `${where}.${key}`,
           errors));
  }
}

const objects = yaml.loadAll(fs.readFileSync(0, "utf8")).filter(Boolean);
const errors = [];
for (const object of objects) {
  const name = `${object.kind}/${object.metadata && object.metadata.name}`;
  const file = modelPath(object.apiVersion, object.kind);
  let Model;
  try {
    Model = require(file + ".js")[object.kind];
  } catch (e) {
    errors.push(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (e) {
    errors.push(`${name}: ${e.message}`);
  }
  walk(object, file, name, errors);
}
process.stdout.write(JSON.stringify({ objects, errors }) + "\n");
