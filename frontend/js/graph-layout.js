// The execution graph's layout, pure: no DOM, no drawing. Given a state machine's ASL
// definition (and which states carry an error, which makes their node taller), place
// every state and route every transition; graph.js draws the result as SVG. Everything
// here reads the definition and the execution's states only, so it runs (and is tested)
// wherever an ES module does.
//
// A small layered ("Sugiyama") layout: longest-path layers from StartAt, dummy points
// for edges that skip layers, barycentre ordering to keep crossings down, and x
// positions pulled towards neighbours. Map and Parallel states are boxes that contain
// their own sub-graphs, laid out the same way. The size of the graph depends on the
// definition only, never on how many chunks a Map runs.

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 50;
export const NODE_HEIGHT_WITH_ERROR = 68;
const GAP_X = 32;
const GAP_DUMMY = 14;
const GAP_Y = 38;
const DUMMY_WIDTH = 4;
const GROUP_PAD = 16;
export const GROUP_HEAD = 40;
// A Distributed Map's box also shows its Map Run's item counts and a bar.
export const GROUP_HEAD_MAP_RUN = 78;
const CATCH_WEIGHT = 0.15;

function choiceLabel(choice) {
  const variable = choice.Variable ?? "";
  const test = Object.keys(choice).find((key) => !["Variable", "Next", "Comment"].includes(key));
  return test ? `${variable} ${test} ${JSON.stringify(choice[test])}`.trim() : "choice";
}

function transitions(state) {
  const out = [];
  const add = (to, kind, label) => {
    if (typeof to === "string" && !out.some((edge) => edge.to === to)) out.push({ to, kind, label });
  };
  add(state.Next, "next", "Next");
  add(state.Default, "default", "Default");
  for (const choice of state.Choices ?? []) add(choice.Next, "choice", choiceLabel(choice));
  for (const handler of state.Catch ?? []) add(handler.Next, "catch", `Catch ${(handler.ErrorEquals ?? []).join(", ")}`);
  return out;
}

export function innerMachines(state) {
  if (state.Type === "Map") {
    const processor = state.ItemProcessor ?? state.Iterator;
    return processor?.States ? [processor] : [];
  }
  if (state.Type === "Parallel") return (state.Branches ?? []).filter((branch) => branch?.States);
  return [];
}

export function stateStatus(states, name) {
  return states?.[name]?.status ?? "NOT_STARTED";
}

export function hasError(info) {
  return Boolean(info?.error) && (info.status === "FAILED" || info.status === "CAUGHT");
}

function weightedMean(neighbours, valueOf) {
  let total = 0;
  let weights = 0;
  for (const { id, weight } of neighbours) {
    total += valueOf(id) * weight;
    weights += weight;
  }
  return total / weights;
}

/** Order-preserving placement nearest to the desired left edges, keeping minimum gaps. */
function place(items, desired, gapAfter) {
  const count = items.length;
  const left = new Array(count);
  const right = new Array(count);
  for (let index = 0; index < count; index += 1) {
    left[index] = index === 0 ? desired[0] : Math.max(desired[index], left[index - 1] + items[index - 1].w + gapAfter(index - 1));
  }
  for (let index = count - 1; index >= 0; index -= 1) {
    right[index] = index === count - 1 ? desired[index] : Math.min(desired[index], right[index + 1] - items[index].w - gapAfter(index));
  }
  // Both are feasible (order and gaps hold), so their average is too.
  return left.map((value, index) => (value + right[index]) / 2);
}

/** Fallback placement: start packed, then pull each vertex towards its neighbours' centres. */
function relaxPlacement(layers, vertices, preds, succs, gapBetween) {
  const x = new Map();
  for (const row of layers) {
    let cursor = 0;
    row.forEach((id, at) => {
      x.set(id, cursor);
      cursor += vertices.get(id).w + (at < row.length - 1 ? gapBetween(row)(at) : 0);
    });
  }
  const centre = (id) => x.get(id) + vertices.get(id).w / 2;
  const relax = (rows, neighbours) => {
    for (const row of rows) {
      const items = row.map((id) => vertices.get(id));
      const desired = row.map((id) => {
        const around = neighbours.get(id);
        return around.length ? weightedMean(around, centre) - vertices.get(id).w / 2 : x.get(id);
      });
      place(items, desired, gapBetween(row)).forEach((value, at) => x.set(row[at], value));
    }
  };
  for (let round = 0; round < 6; round += 1) {
    relax(layers.slice(1), preds);
    relax(layers.slice(0, -1).reverse(), succs);
  }
  relax(layers.slice(1), preds);
  return x;
}

/**
 * Block placement (after Brandes and Köpf, much simplified): align each state with the
 * state its Next/Default leads to, and each long edge's dummy points with each other, into
 * vertical blocks that share one centre; pack blocks left to right under the layer order,
 * then move each block towards its neighbours within the room it has. Returns null when
 * the order makes the blocks inconsistent.
 */
function placeBlocks(layers, vertices, edges, preds, succs, gapBetween) {
  const position = new Map();
  const layerOf = new Map();
  layers.forEach((row, level) => row.forEach((id, at) => {
    position.set(id, at);
    layerOf.set(id, level);
  }));
  const candidates = [];
  for (const edge of edges) {
    if (edge.chain.length === 2 && (edge.kind === "next" || edge.kind === "default")) candidates.push([edge.from, edge.to, 2]);
    for (let index = 2; index < edge.chain.length - 1; index += 1) candidates.push([edge.chain[index - 1], edge.chain[index], 1]);
  }
  candidates.sort((a, b) => b[2] - a[2]);
  const below = new Map();
  const above = new Map();
  const crosses = (upper, lower) => {
    for (const [otherUpper, otherLower] of below) {
      if (layerOf.get(otherUpper) !== layerOf.get(upper)) continue;
      const top = position.get(upper) - position.get(otherUpper);
      const bottom = position.get(lower) - position.get(otherLower);
      if (top * bottom < 0) return true;
    }
    return false;
  };
  for (const [upper, lower] of candidates) {
    if (below.has(upper) || above.has(lower) || crosses(upper, lower)) continue;
    below.set(upper, lower);
    above.set(lower, upper);
  }

  const root = new Map();
  const half = new Map();
  for (const row of layers) {
    for (const id of row) {
      const block = above.has(id) ? root.get(above.get(id)) : id;
      root.set(id, block);
      half.set(block, Math.max(half.get(block) ?? 0, vertices.get(id).w / 2));
    }
  }
  const blocks = [...half.keys()];
  const right = new Map(blocks.map((block) => [block, new Map()]));
  const left = new Map(blocks.map((block) => [block, new Map()]));
  for (const row of layers) {
    for (let at = 0; at < row.length - 1; at += 1) {
      const a = row[at];
      const b = row[at + 1];
      const separation = vertices.get(a).w / 2 + gapBetween(row)(at) + vertices.get(b).w / 2;
      const from = root.get(a);
      const to = root.get(b);
      right.get(from).set(to, Math.max(right.get(from).get(to) ?? 0, separation));
      left.get(to).set(from, Math.max(left.get(to).get(from) ?? 0, separation));
    }
  }
  const waiting = new Map(blocks.map((block) => [block, left.get(block).size]));
  const order = blocks.filter((block) => waiting.get(block) === 0);
  for (let index = 0; index < order.length; index += 1) {
    for (const next of right.get(order[index]).keys()) {
      waiting.set(next, waiting.get(next) - 1);
      if (waiting.get(next) === 0) order.push(next);
    }
  }
  if (order.length !== blocks.length) return null;

  const centre = new Map();
  const lowest = (block) => Math.max(half.get(block), ...[...left.get(block)].map(([other, gap]) => centre.get(other) + gap));
  for (const block of order) centre.set(block, lowest(block));
  const members = new Map(blocks.map((block) => [block, []]));
  for (const [id, block] of root) members.get(block).push(id);
  for (let round = 0; round < 8; round += 1) {
    for (const block of round % 2 ? [...order].reverse() : order) {
      const around = members.get(block).flatMap((id) => [...preds.get(id), ...succs.get(id)]).filter((item) => root.get(item.id) !== block);
      if (!around.length) continue;
      const desired = weightedMean(around, (id) => centre.get(root.get(id)));
      const highest = Math.min(Infinity, ...[...right.get(block)].map(([other, gap]) => centre.get(other) - gap));
      centre.set(block, Math.min(Math.max(desired, lowest(block)), highest));
    }
  }
  const x = new Map();
  for (const [id, block] of root) x.set(id, centre.get(block) - vertices.get(id).w / 2);
  return x;
}

/** The states every item goes through: from StartAt along Next (not the Catch paths), in order. */
export function mainPath(machine) {
  const path = [];
  let name = machine?.StartAt;
  while (typeof name === "string" && machine.States?.[name] && !path.includes(name)) {
    path.push(name);
    name = machine.States[name].Next;
  }
  return path;
}

/**
 * Lay out one machine ({StartAt, States}): `{nodes, edges, width, height, mainPath}` in its
 * own coordinates. A node is `{name, state, x, y, w, h}`; a Map or Parallel node also has
 * `inner` (the layouts of its machines, laid out the same way) and `innerAt` (where each
 * sits, relative to the node's top left corner). An edge is `{from, to, kind, label,
 * points, back}`, `kind` one of next, default, choice, catch.
 */
export function layoutMachine(machine, states) {
  const definitions = machine.States ?? {};
  const names = Object.keys(definitions);
  const vertices = new Map();

  for (const name of names) {
    const state = definitions[name] ?? {};
    const machines = innerMachines(state);
    if (machines.length) {
      const inner = machines.map((child) => layoutMachine(child, states));
      const innerWidth = inner.reduce((sum, child) => sum + child.width, 0) + GAP_X * (inner.length - 1);
      const innerHeight = Math.max(...inner.map((child) => child.height));
      const head = isDistributedMap(state) ? GROUP_HEAD_MAP_RUN : GROUP_HEAD;
      const w = Math.max(NODE_WIDTH + 40, innerWidth + 2 * GROUP_PAD);
      // Where each sub-graph sits inside the box, relative to its top left corner, centred.
      let offset = GROUP_PAD + (w - 2 * GROUP_PAD - innerWidth) / 2;
      const innerAt = inner.map((child) => {
        const at = { x: offset, y: head };
        offset += child.width + GAP_X;
        return at;
      });
      vertices.set(name, {
        id: name, name, state, real: true, inner, innerAt, head,
        w,
        h: head + innerHeight + GROUP_PAD,
      });
    } else {
      vertices.set(name, {
        id: name, name, state, real: true, inner: null,
        w: NODE_WIDTH,
        h: hasError(states?.[name]) ? NODE_HEIGHT_WITH_ERROR : NODE_HEIGHT,
      });
    }
  }

  const outgoing = new Map(names.map((name) => [name, transitions(definitions[name] ?? {}).filter((edge) => vertices.has(edge.to))]));

  // Depth-first from StartAt, the main path first (Next/Default before Choices, Catch last),
  // so the happy path ends up on the left; back edges are kept out of the layering.
  const visited = new Set();
  const onStack = new Set();
  const postOrder = [];
  const discovery = [];
  const backEdges = [];
  const visit = (name) => {
    visited.add(name);
    onStack.add(name);
    discovery.push(name);
    for (const edge of outgoing.get(name)) {
      if (onStack.has(edge.to)) {
        edge.back = true;
        backEdges.push({ from: name, ...edge });
      } else if (!visited.has(edge.to)) {
        visit(edge.to);
      }
    }
    onStack.delete(name);
    postOrder.push(name);
  };
  if (vertices.has(machine.StartAt)) visit(machine.StartAt);
  for (const name of names) if (!visited.has(name)) visit(name);

  const layer = new Map(names.map((name) => [name, 0]));
  for (const name of [...postOrder].reverse()) {
    for (const edge of outgoing.get(name)) {
      if (!edge.back) layer.set(edge.to, Math.max(layer.get(edge.to), layer.get(name) + 1));
    }
  }

  // Dummy points on edges that span several layers.
  const edges = [];
  const preds = new Map(names.map((name) => [name, []]));
  const succs = new Map(names.map((name) => [name, []]));
  // Catch edges pull on positions less than the main flow does, so the happy path stays straight.
  const link = (from, to, weight) => {
    succs.get(from).push({ id: to, weight });
    preds.get(to).push({ id: from, weight });
  };
  let dummyCount = 0;
  for (const name of discovery) {
    for (const edge of outgoing.get(name)) {
      if (edge.back) continue;
      const chain = [name];
      for (let level = layer.get(name) + 1; level < layer.get(edge.to); level += 1) {
        const id = `\u0000dummy${dummyCount += 1}`;
        vertices.set(id, { id, real: false, w: DUMMY_WIDTH, h: 0 });
        layer.set(id, level);
        preds.set(id, []);
        succs.set(id, []);
        chain.push(id);
      }
      chain.push(edge.to);
      const weight = edge.kind === "catch" ? CATCH_WEIGHT : 1;
      for (let index = 1; index < chain.length; index += 1) link(chain[index - 1], chain[index], weight);
      edges.push({ from: name, to: edge.to, kind: edge.kind, label: edge.label, chain });
    }
  }

  const layerCount = Math.max(0, ...layer.values()) + 1;
  const layers = Array.from({ length: layerCount }, () => []);
  for (const name of discovery) layers[layer.get(name)].push(name);
  for (const [id, vertex] of vertices) if (!vertex.real) layers[layer.get(id)].push(id);

  // Barycentre ordering: a few sweeps down and up, ending going down.
  const position = new Map();
  const index = () => layers.forEach((row) => row.forEach((id, at) => position.set(id, at)));
  index();
  const sweep = (rows, neighbours) => {
    for (const row of rows) {
      const keyed = row.map((id, at) => {
        const around = neighbours.get(id);
        return { id, key: around.length ? weightedMean(around, (other) => position.get(other)) : at, at };
      });
      keyed.sort((a, b) => a.key - b.key || a.at - b.at);
      keyed.forEach((item, at) => {
        row[at] = item.id;
        position.set(item.id, at);
      });
    }
  };
  for (let round = 0; round < 3; round += 1) {
    sweep(layers.slice(1), preds);
    if (round < 2) sweep(layers.slice(0, -1).reverse(), succs);
  }

  // x: main-line transitions (and long edges' dummy lanes) become straight vertical blocks;
  // if that is impossible without a conflict, fall back to pulling vertices towards neighbours.
  const gapBetween = (row) => (at) => (vertices.get(row[at]).real && vertices.get(row[at + 1]).real ? GAP_X : GAP_DUMMY);
  const x = placeBlocks(layers, vertices, edges, preds, succs, gapBetween) ?? relaxPlacement(layers, vertices, preds, succs, gapBetween);
  const minX = Math.min(...[...x.values()], 0);
  for (const [id, value] of x) x.set(id, value - minX);

  // y: rows as tall as their tallest vertex.
  const rowTop = [];
  const rowHeight = layers.map((row) => Math.max(16, ...row.map((id) => vertices.get(id).h)));
  let top = 0;
  for (let level = 0; level < layerCount; level += 1) {
    rowTop.push(top);
    top += rowHeight[level] + GAP_Y;
  }
  const nodes = [];
  for (const [id, vertex] of vertices) {
    const level = layer.get(id);
    vertex.x = x.get(id);
    vertex.y = rowTop[level] + (rowHeight[level] - vertex.h) / 2;
    vertex.rowTop = rowTop[level];
    vertex.rowBottom = rowTop[level] + rowHeight[level];
    if (vertex.real) nodes.push(vertex);
  }
  const width = Math.max(0, ...[...vertices.values()].map((vertex) => vertex.x + vertex.w));
  const height = Math.max(0, top - GAP_Y);

  // Edge geometry: spread several edges leaving (or entering) one node along its side.
  for (const edge of edges) {
    const points = [];
    const from = vertices.get(edge.from);
    points.push({ x: from.x + from.w / 2, y: from.y + from.h });
    for (const id of edge.chain.slice(1, -1)) {
      const dummy = vertices.get(id);
      points.push({ x: dummy.x + dummy.w / 2, y: dummy.rowTop }, { x: dummy.x + dummy.w / 2, y: dummy.rowBottom });
    }
    const to = vertices.get(edge.to);
    points.push({ x: to.x + to.w / 2, y: to.y });
    edge.points = points;
  }
  // The main-line edge stays in the middle; the others fan out towards their side.
  const isMain = (edge) => edge.chain.length === 2 && (edge.kind === "next" || edge.kind === "default");
  const spread = (key, pointAt, neighbourAt) => {
    const groups = new Map();
    for (const edge of edges) {
      const group = groups.get(edge[key]) ?? [];
      group.push(edge);
      groups.set(edge[key], group);
    }
    for (const [id, group] of groups) {
      if (group.length < 2) continue;
      const vertex = vertices.get(id);
      const middle = vertex.x + vertex.w / 2;
      const step = Math.min(18, (vertex.w - 24) / group.length);
      const main = group.filter(isMain).length === 1 ? group.find(isMain) : null;
      const rest = group.filter((edge) => edge !== main).sort((a, b) => neighbourAt(a).x - neighbourAt(b).x);
      if (main) {
        const leftSide = rest.filter((edge) => neighbourAt(edge).x < middle).reverse();
        const rightSide = rest.filter((edge) => neighbourAt(edge).x >= middle);
        leftSide.forEach((edge, at) => { pointAt(edge).x = middle - (at + 1) * step; });
        rightSide.forEach((edge, at) => { pointAt(edge).x = middle + (at + 1) * step; });
      } else {
        rest.forEach((edge, at) => { pointAt(edge).x = middle + (at - (rest.length - 1) / 2) * step; });
      }
    }
  };
  spread("from", (edge) => edge.points[0], (edge) => edge.points[1]);
  spread("to", (edge) => edge.points.at(-1), (edge) => edge.points.at(-2));
  for (const edge of backEdges) {
    const from = vertices.get(edge.from);
    const to = vertices.get(edge.to);
    const outside = width + 24;
    edge.points = [
      { x: from.x + from.w, y: from.y + from.h / 2 },
      { x: outside, y: from.y + from.h / 2 },
      { x: outside, y: to.y + to.h / 2 },
      { x: to.x + to.w, y: to.y + to.h / 2 },
    ];
    edge.back = true;
    edges.push(edge);
  }

  return { nodes, edges, width: width + (backEdges.length ? 32 : 0), height, mainPath: mainPath(machine) };
}


/** Whether a state is a Map whose items run as child executions (a Map Run). */
export function isDistributedMap(state) {
  return state?.Type === "Map" && (state.ItemProcessor?.ProcessorConfig?.Mode === "DISTRIBUTED" || Boolean(state.ItemReader));
}

// A poll brings new counts far more often than a new shape: the layout only changes with
// the definition and with which states show an error line, so keep the last few.
const layoutCache = new Map();
const CACHE_SIZE = 6;

/** The layout of a whole definition, reused while the definition and its error lines stay the same. */
export function layoutGraph(definition, states) {
  const errors = allStates(definition)
    .filter((state) => hasError(states?.[state.name]))
    .map((state) => state.name);
  const key = JSON.stringify([definition, errors]);
  let layout = layoutCache.get(key);
  if (layout) {
    layoutCache.delete(key);
  } else {
    layout = layoutMachine(definition, states);
    if (layoutCache.size >= CACHE_SIZE) layoutCache.delete(layoutCache.keys().next().value);
  }
  layoutCache.set(key, layout);
  return layout;
}

/** Every state in the definition (nested ones too), in definition order, with its type. */
export function allStates(definition) {
  const out = [];
  const walk = (machine, parent) => {
    for (const [name, state] of Object.entries(machine?.States ?? {})) {
      out.push({ name, type: state?.Type ?? "State", parent, comment: state?.Comment ?? null });
      for (const child of innerMachines(state ?? {})) walk(child, name);
    }
  };
  walk(definition, null);
  return out;
}
