/**
 * Which SA holds an inbound SPI in a SAD domain. Keyed by the numbers themselves, one map per domain:
 * an install looks up and inserts without building and hashing a `domain:spi` string.
 */
export class InboundIndex {
  readonly #domains = new Map<number, Map<number, string>>();

  get(domain: number, spi: number): string | undefined {
    return this.#domains.get(domain)?.get(spi);
  }

  set(domain: number, spi: number, name: string): void {
    let spis = this.#domains.get(domain);
    if (spis === undefined) {
      spis = new Map();
      this.#domains.set(domain, spis);
    }
    spis.set(spi, name);
  }

  delete(domain: number, spi: number): void {
    const spis = this.#domains.get(domain);
    if (spis === undefined) return;
    spis.delete(spi);
    if (spis.size === 0) this.#domains.delete(domain);
  }
}
