// Placeholder module boundary: the local storage driver is being written in this folder.
export {};
