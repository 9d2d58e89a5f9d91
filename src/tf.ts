/**
 * The one place robustest imports TensorFlow.js from.
 *
 * Importing `@tensorflow/tfjs-layers` also registers every gradient of tfjs-core (its bundle does that on
 * load), and `@tensorflow/tfjs-backend-cpu` registers the always-available `cpu` backend. tfjs is a peer
 * dependency, so these are the same engine instances the user's own code sees.
 * @internal
 * @module
 */
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
