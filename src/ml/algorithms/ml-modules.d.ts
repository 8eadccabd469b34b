// Minimal typings for the parts of libsvm-js (CommonJS, no bundled types) that we call.
declare module 'libsvm-js' {
  interface LibSvmOptions {
    type?: string;
    kernel?: string;
    gamma?: number;
    cost?: number;
    probabilityEstimates?: boolean;
    quiet?: boolean;
  }
  interface LibSvm {
    train(samples: number[][], labels: number[]): void;
    serializeModel(): string;
    free(): void;
  }
  interface LibSvmClass {
    new (options: LibSvmOptions): LibSvm;
    SVM_TYPES: { C_SVC: string };
    KERNEL_TYPES: { LINEAR: string; RBF: string };
  }
  const loaded: Promise<LibSvmClass>;
  export default loaded;
}

// ml-knn and ml-cart ship no typings; we only construct them and read their fitted structures.
declare module 'ml-knn' {
  const KNN: unknown;
  export default KNN;
}

declare module 'ml-cart' {
  export const DecisionTreeClassifier: unknown;
}
