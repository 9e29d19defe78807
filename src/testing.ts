// 'ferry/testing': what an embedder needs to test a StorageBackend of its own with node:test.
export { storageContract, type Factory, type Seed } from './storage/test-contract.js';
