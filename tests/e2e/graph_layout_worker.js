// Runs in a module Web Worker for tests/e2e/test_graph_layout.py: there is no DOM here,
// so the layout must do without one. Lays out the posted definition with the dashboard's
// own graph-layout.js and answers it flattened: every state as an absolute box, every
// edge with absolute points.

function flatten(layout) {
  const nodes = [];
  const edges = [];
  const walk = (machine, dx, dy, parent) => {
    for (const node of machine.nodes) {
      nodes.push({ name: node.name, type: node.state.Type ?? null, parent, x: node.x + dx, y: node.y + dy, w: node.w, h: node.h });
      (node.inner ?? []).forEach((child, index) => {
        const at = node.innerAt[index];
        walk(child, dx + node.x + at.x, dy + node.y + at.y, node.name);
      });
    }
    for (const edge of machine.edges) {
      const points = edge.points.map((point) => ({ x: point.x + dx, y: point.y + dy }));
      edges.push({ from: edge.from, to: edge.to, kind: edge.kind, label: edge.label, back: Boolean(edge.back), points });
    }
  };
  walk(layout, 0, 0, null);
  return { nodes, edges };
}

self.onmessage = async ({ data }) => {
  try {
    const { allStates, layoutGraph } = await import(`${data.origin}/js/graph-layout.js`);
    const layout = layoutGraph(data.definition, data.states);
    self.postMessage({
      hasDocument: typeof document !== "undefined" || typeof window !== "undefined",
      width: layout.width,
      height: layout.height,
      mainPath: layout.mainPath,
      states: allStates(data.definition).map((state) => state.name),
      ...flatten(layout),
    });
  } catch (error) {
    self.postMessage({ error: String(error?.stack ?? error) });
  }
};
