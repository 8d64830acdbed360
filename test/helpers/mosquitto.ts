// The real mosquitto the benchmarks use serves the tests too (bench/ is built; test/ is not).
export { freePort, startMosquitto, type Mosquitto, type MosquittoOptions } from "../../bench/mosquitto.js";
