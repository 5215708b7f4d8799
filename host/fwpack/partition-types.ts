// Partition types and subtypes as ESP-IDF names them (esp_partition.h, and the
// keyword tables of gen_esp32part.py that partitions.csv is written in).

export const PartitionType = {
  APP: 0x00,
  DATA: 0x01,
  BOOTLOADER: 0x02,
  PARTITION_TABLE: 0x03,
} as const;

export const AppSubtype = {
  FACTORY: 0x00,
  OTA_0: 0x10,
  TEST: 0x20,
} as const;

export const OTA_SLOT_COUNT_MAX = 16;

export const DataSubtype = {
  OTA: 0x00,
  PHY: 0x01,
  NVS: 0x02,
  COREDUMP: 0x03,
  NVS_KEYS: 0x04,
  EFUSE: 0x05,
  UNDEFINED: 0x06,
  ESPHTTPD: 0x80,
  FAT: 0x81,
  SPIFFS: 0x82,
  LITTLEFS: 0x83,
  TEE_OTA: 0x90,
} as const;

/** Bits of the flags word (PART_FLAG_*). */
export const PartitionFlag = {
  ENCRYPTED: 1 << 0,
  READONLY: 1 << 1,
} as const;

export const TYPE_KEYWORDS: ReadonlyMap<string, number> = new Map([
  ["app", PartitionType.APP],
  ["data", PartitionType.DATA],
  ["bootloader", PartitionType.BOOTLOADER],
  ["partition_table", PartitionType.PARTITION_TABLE],
]);

const APP_SUBTYPE_KEYWORDS = new Map<string, number>([
  ["factory", AppSubtype.FACTORY],
  ["test", AppSubtype.TEST],
  ...Array.from({ length: OTA_SLOT_COUNT_MAX }, (_, slot) => [`ota_${slot}`, AppSubtype.OTA_0 + slot] as [string, number]),
  ["tee_0", 0x30],
  ["tee_1", 0x31],
]);

const DATA_SUBTYPE_KEYWORDS = new Map<string, number>(
  Object.entries(DataSubtype).map(([name, value]) => [name.toLowerCase(), value]),
);

const SUBTYPE_KEYWORDS: ReadonlyMap<number, ReadonlyMap<string, number>> = new Map([
  [PartitionType.APP, APP_SUBTYPE_KEYWORDS],
  [PartitionType.DATA, DATA_SUBTYPE_KEYWORDS],
  [PartitionType.BOOTLOADER, new Map([["primary", 0x00], ["ota", 0x01], ["recovery", 0x02]])],
  [PartitionType.PARTITION_TABLE, new Map([["primary", 0x00], ["ota", 0x01]])],
]);

export function subtypeKeywords(type: number): ReadonlyMap<string, number> {
  return SUBTYPE_KEYWORDS.get(type) ?? new Map();
}

function nameOf(keywords: ReadonlyMap<string, number>, value: number): string | undefined {
  for (const [name, v] of keywords) if (v === value) return name;
  return undefined;
}

/** "app", "data", ... or the number in hex for a custom type. */
export function partitionTypeName(type: number): string {
  return nameOf(TYPE_KEYWORDS, type) ?? `0x${type.toString(16)}`;
}

export function partitionSubtypeName(type: number, subtype: number): string {
  return nameOf(subtypeKeywords(type), subtype) ?? `0x${subtype.toString(16)}`;
}

/** The slot number of an ota_N app partition, or undefined for any other partition. */
export function otaSlotOf(partition: { type: number; subtype: number }): number | undefined {
  if (partition.type !== PartitionType.APP) return undefined;
  const slot = partition.subtype - AppSubtype.OTA_0;
  return slot >= 0 && slot < OTA_SLOT_COUNT_MAX ? slot : undefined;
}
