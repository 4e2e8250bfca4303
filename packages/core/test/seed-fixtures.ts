/** The seeds' own data: the tutorial's grades table and what `stream(batch_size=2)` prints for it. */
export const GRADES = { id: [1, 2, 3, 4, 5, 6], grade: ["a", "b", "b", "a", "a", "e"] };

export const TUTORIAL_BATCHES = [
  { id: [1, 2], grade: ["a", "b"] },
  { id: [3, 4], grade: ["b", "a"] },
  { id: [5, 6], grade: ["a", "e"] },
];
