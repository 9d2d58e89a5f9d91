// The browser demo's page logic: load the bundled MNIST CNN with tfjs, let a person draw or pick a digit, attack it
// with robustest (FGSM, PGD or Carlini–Wagner at the ε of the slider) and show the adversarial image, the
// perturbation and the predictions. Bundled by esbuild (site.ts) from robustest's browser entry; no Node anywhere.
//
// Query parameters: ?backend=wasm (default) or cpu.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { cw, fgsm, fromLayersModel, pgd, type Attack, type DifferentiableModel } from '../../src/browser.js';

/** One MNIST test image of samples.json: its label and 784 pixels in [0, 1]. */
interface Sample {
  label: number;
  pixels: number[];
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page: expected an element #${id}, got none`);
  return el as T;
};

const status = $<HTMLParagraphElement>('status');
const runButton = $<HTMLButtonElement>('run');
const attackSelect = $<HTMLSelectElement>('attack');
const epsInput = $<HTMLInputElement>('eps');
const epsValue = $<HTMLOutputElement>('eps-value');
const pad = $<HTMLCanvasElement>('pad');

let model: DifferentiableModel | undefined;
/** The current input, [1, 28, 28, 1] in [0, 1], and its label (the picked sample's, or the prediction for a drawing). */
let current: { x: tf.Tensor4D; label: number } | undefined;

function say(text: string): void {
  status.textContent = text;
}

/** Draws a [28, 28] image; values in [lo, hi] map to black..white. */
function paint(canvasId: string, values: Float32Array | Int32Array | Uint8Array, lo = 0, hi = 1): void {
  const ctx = $<HTMLCanvasElement>(canvasId).getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round((255 * (values[i]! - lo)) / (hi - lo));
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/** The top-3 classes and their softmax probabilities, as list items; returns the top class. */
async function showPredictions(listId: string, x: tf.Tensor): Promise<number> {
  const logits = await model!.logits(x);
  const probs = tf.tidy(() => tf.softmax(logits).dataSync());
  logits.dispose();
  const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]!);
  $<HTMLOListElement>(listId).innerHTML = order
    .slice(0, 3)
    .map((c) => `<li data-class="${c}">${c}: ${(100 * probs[c]!).toFixed(1)}%</li>`)
    .join('');
  return order[0]!;
}

async function setInput(x: tf.Tensor4D, label: number | undefined): Promise<void> {
  current?.x.dispose();
  paint('clean', x.dataSync());
  const predicted = await showPredictions('clean-preds', x);
  current = { x, label: label ?? predicted };
  const result = $<HTMLDivElement>('result');
  result.textContent = `label ${current.label}${label === undefined ? ' (the model’s prediction for your drawing)' : ''}`;
  result.dataset['clean'] = String(predicted);
  result.dataset['adversarial'] = '';
  $<HTMLOListElement>('adv-preds').innerHTML = '';
  runButton.disabled = false;
}

function attackFor(name: string): { attack: Attack; epsilon: number } {
  const slider = Number(epsInput.value);
  if (name === 'fgsm') return { attack: fgsm(), epsilon: slider };
  if (name === 'cw') return { attack: cw({ steps: 100, binarySearchSteps: 5 }), epsilon: slider * 10 };
  return { attack: pgd({ steps: 40 }), epsilon: slider };
}

function updateEpsLabel(): void {
  const l2 = attackSelect.value === 'cw';
  $<HTMLSpanElement>('eps-norm').textContent = l2 ? '(L2, 10 × slider)' : '(L∞)';
  epsValue.textContent = (Number(epsInput.value) * (l2 ? 10 : 1)).toFixed(2);
}

async function runAttack(): Promise<void> {
  if (model === undefined || current === undefined) return;
  runButton.disabled = true;
  const { attack, epsilon } = attackFor(attackSelect.value);
  say(`running ${attack.name} at ε = ${epsilon.toFixed(2)}…`);
  const t0 = performance.now();
  const result = await attack.run(model, current.x, [current.label], { epsilons: [epsilon], seed: 0 });
  try {
    const r = result.results[0]!;
    const adv = r.adversarial;
    paint('adversarial', await adv.data());
    const delta = tf.sub(adv, current.x);
    const bound = Math.max(1e-6, (await tf.max(tf.abs(delta)).data())[0]!);
    paint('perturbation', await delta.data(), -bound, bound);
    delta.dispose();
    const predicted = await showPredictions('adv-preds', adv);
    const flipped = predicted !== current.label;
    const resultEl = $<HTMLDivElement>('result');
    resultEl.dataset['adversarial'] = String(predicted);
    resultEl.className = flipped ? 'flipped' : '';
    resultEl.textContent =
      `label ${current.label} → ${predicted}: ${flipped ? 'fooled' : 'not fooled'} ` + `(L∞ ${r.linf[0]!.toFixed(3)}, L2 ${r.l2[0]!.toFixed(3)})`;
    say(`done: ${attack.name} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  } finally {
    result.dispose();
    runButton.disabled = false;
  }
}

function setupPad(): void {
  const ctx = pad.getContext('2d')!;
  const clear = (): void => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  let drawing = false;
  const point = (e: PointerEvent): [number, number] => {
    const r = pad.getBoundingClientRect();
    return [((e.clientX - r.left) * pad.width) / r.width, ((e.clientY - r.top) * pad.height) / r.height];
  };
  pad.addEventListener('pointerdown', (e) => {
    drawing = true;
    ctx.beginPath();
    ctx.moveTo(...point(e));
  });
  pad.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    ctx.lineTo(...point(e));
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 16;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.stroke();
  });
  window.addEventListener('pointerup', () => (drawing = false));
  $<HTMLButtonElement>('clear').addEventListener('click', clear);
  $<HTMLButtonElement>('use-drawing').addEventListener('click', () => {
    // MNIST digits sit in the middle 20×20 of the 28×28 frame: scale the pad down to that and centre it.
    const small = document.createElement('canvas');
    small.width = 28;
    small.height = 28;
    const s = small.getContext('2d')!;
    s.fillStyle = '#000';
    s.fillRect(0, 0, 28, 28);
    s.drawImage(pad, 4, 4, 20, 20);
    const rgba = s.getImageData(0, 0, 28, 28).data;
    const pixels = Float32Array.from({ length: 784 }, (_, i) => rgba[4 * i]! / 255);
    void setInput(tf.tensor4d(pixels, [1, 28, 28, 1]), undefined);
  });
}

async function start(): Promise<void> {
  const wanted = new URLSearchParams(location.search).get('backend') ?? 'wasm';
  if (wanted === 'wasm') {
    setWasmPaths(new URL('./wasm/', location.href).href);
  }
  const ok = await tf.setBackend(wanted).catch(() => false);
  if (!ok) await tf.setBackend('cpu');
  await tf.ready();
  $<HTMLSpanElement>('backend').textContent = tf.getBackend();
  const net = await tfl.loadLayersModel('./model/model.json');
  model = await fromLayersModel(net, { name: 'mnist-cnn (bundled)' });
  const samples = (await (await fetch('./samples.json')).json()) as Sample[];
  const digits = $<HTMLDivElement>('digits');
  for (const [i, sample] of samples.entries()) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = String(sample.label);
    b.dataset['sample'] = String(i);
    b.title = `MNIST test image with label ${sample.label}`;
    b.addEventListener('click', () => void setInput(tf.tensor4d(sample.pixels, [1, 28, 28, 1]), sample.label));
    digits.append(b);
  }
  setupPad();
  attackSelect.addEventListener('change', updateEpsLabel);
  epsInput.addEventListener('input', updateEpsLabel);
  updateEpsLabel();
  runButton.addEventListener('click', () => void runAttack());
  document.body.dataset['backend'] = tf.getBackend();
  say(`ready (backend ${tf.getBackend()}${ok ? '' : `: ${wanted} failed, using cpu`}): pick or draw a digit`);
}

start().catch((e: unknown) => {
  say(`error: ${e instanceof Error ? e.message : String(e)}`);
  document.body.dataset['error'] = 'true';
});
