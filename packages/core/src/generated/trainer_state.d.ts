import * as $protobuf from "protobufjs";
import Long = require("long");

/** Namespace artist. */
export namespace artist {

    /**
     * Properties of a TensorData.
     * @deprecated Use artist.TensorData.$Properties instead.
     */
    interface ITensorData extends artist.TensorData.$Properties {
    }

    /** Represents a TensorData. */
    class TensorData {

        /**
         * Constructs a new TensorData.
         * @param [p] Properties to set
         */
        constructor(p?: artist.TensorData.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** TensorData name. */
        name: string;

        /** TensorData shape. */
        shape: number[];

        /** TensorData dtype. */
        dtype: string;

        /** TensorData data. */
        data: Uint8Array;

        /**
         * Creates a new TensorData instance using the specified properties.
         * @param [properties] Properties to set
         * @returns TensorData instance
         */
        static create(properties: artist.TensorData.$Shape): artist.TensorData & artist.TensorData.$Shape;
        static create(properties?: artist.TensorData.$Properties): artist.TensorData;

        /**
         * Encodes the specified TensorData message. Does not implicitly {@link artist.TensorData.verify|verify} messages.
         * @param m TensorData message or plain object to encode
         * @param [w] Writer to encode to
         * @returns Writer
         */
        static encode(m: artist.TensorData.$Properties, w?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Encodes the specified TensorData message, length delimited. Does not implicitly {@link artist.TensorData.verify|verify} messages.
         * @param message TensorData message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encodeDelimited(message: artist.TensorData.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a TensorData message from the specified reader or buffer.
         * @param r Reader or buffer to decode from
         * @param [l] Message length if known beforehand
         * @returns {artist.TensorData & artist.TensorData.$Shape} TensorData
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(r: ($protobuf.Reader|Uint8Array), l?: number): artist.TensorData & artist.TensorData.$Shape;

        /**
         * Decodes a TensorData message from the specified reader or buffer, length delimited.
         * @param reader Reader or buffer to decode from
         * @returns {artist.TensorData & artist.TensorData.$Shape} TensorData
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): artist.TensorData & artist.TensorData.$Shape;

        /**
         * Verifies a TensorData message.
         * @param m Plain object to verify
         * @returns `null` if valid, otherwise the reason why it is not
         */
        static verify(m: { [k: string]: any }): (string|null);

        /**
         * Creates a TensorData message from a plain object. Also converts values to their respective internal types.
         * @param d Plain object
         * @returns TensorData
         */
        static fromObject(d: { [k: string]: any }): artist.TensorData;

        /**
         * Creates a plain object from a TensorData message. Also converts values to other types if specified.
         * @param m TensorData
         * @param [o] Conversion options
         * @returns Plain object
         */
        static toObject(m: artist.TensorData, o?: $protobuf.IConversionOptions): { [k: string]: any };

        /**
         * Converts this TensorData to JSON.
         * @returns JSON object
         */
        toJSON(): { [k: string]: any };

        /**
         * Gets the type url for TensorData
         * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns The type url
         */
        static getTypeUrl(prefix?: string): string;
    }

    namespace TensorData {

        /** Properties of a TensorData. */
        interface $Properties {

            /** TensorData name */
            name?: (string|null);

            /** TensorData shape */
            shape?: (number[]|null);

            /** TensorData dtype */
            dtype?: (string|null);

            /** TensorData data */
            data?: (Uint8Array|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a TensorData. */
        type $Shape = artist.TensorData.$Properties;
    }

    /**
     * Properties of a RngState.
     * @deprecated Use artist.RngState.$Properties instead.
     */
    interface IRngState extends artist.RngState.$Properties {
    }

    /** Represents a RngState. */
    class RngState {

        /**
         * Constructs a new RngState.
         * @param [p] Properties to set
         */
        constructor(p?: artist.RngState.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** RngState algorithm. */
        algorithm: string;

        /** RngState words. */
        words: number[];

        /**
         * Creates a new RngState instance using the specified properties.
         * @param [properties] Properties to set
         * @returns RngState instance
         */
        static create(properties: artist.RngState.$Shape): artist.RngState & artist.RngState.$Shape;
        static create(properties?: artist.RngState.$Properties): artist.RngState;

        /**
         * Encodes the specified RngState message. Does not implicitly {@link artist.RngState.verify|verify} messages.
         * @param m RngState message or plain object to encode
         * @param [w] Writer to encode to
         * @returns Writer
         */
        static encode(m: artist.RngState.$Properties, w?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Encodes the specified RngState message, length delimited. Does not implicitly {@link artist.RngState.verify|verify} messages.
         * @param message RngState message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encodeDelimited(message: artist.RngState.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a RngState message from the specified reader or buffer.
         * @param r Reader or buffer to decode from
         * @param [l] Message length if known beforehand
         * @returns {artist.RngState & artist.RngState.$Shape} RngState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(r: ($protobuf.Reader|Uint8Array), l?: number): artist.RngState & artist.RngState.$Shape;

        /**
         * Decodes a RngState message from the specified reader or buffer, length delimited.
         * @param reader Reader or buffer to decode from
         * @returns {artist.RngState & artist.RngState.$Shape} RngState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): artist.RngState & artist.RngState.$Shape;

        /**
         * Verifies a RngState message.
         * @param m Plain object to verify
         * @returns `null` if valid, otherwise the reason why it is not
         */
        static verify(m: { [k: string]: any }): (string|null);

        /**
         * Creates a RngState message from a plain object. Also converts values to their respective internal types.
         * @param d Plain object
         * @returns RngState
         */
        static fromObject(d: { [k: string]: any }): artist.RngState;

        /**
         * Creates a plain object from a RngState message. Also converts values to other types if specified.
         * @param m RngState
         * @param [o] Conversion options
         * @returns Plain object
         */
        static toObject(m: artist.RngState, o?: $protobuf.IConversionOptions): { [k: string]: any };

        /**
         * Converts this RngState to JSON.
         * @returns JSON object
         */
        toJSON(): { [k: string]: any };

        /**
         * Gets the type url for RngState
         * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns The type url
         */
        static getTypeUrl(prefix?: string): string;
    }

    namespace RngState {

        /** Properties of a RngState. */
        interface $Properties {

            /** RngState algorithm */
            algorithm?: (string|null);

            /** RngState words */
            words?: (number[]|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a RngState. */
        type $Shape = artist.RngState.$Properties;
    }

    /**
     * Properties of a TrainerState.
     * @deprecated Use artist.TrainerState.$Properties instead.
     */
    interface ITrainerState extends artist.TrainerState.$Properties {
    }

    /** Represents a TrainerState. */
    class TrainerState {

        /**
         * Constructs a new TrainerState.
         * @param [p] Properties to set
         */
        constructor(p?: artist.TrainerState.$Properties);

        /** Unknown fields preserved while decoding when enabled */
        $unknowns?: Uint8Array[];

        /** TrainerState formatVersion. */
        formatVersion: number;

        /** TrainerState step. */
        step: number;

        /** TrainerState epoch. */
        epoch: number;

        /** TrainerState hasBestMetric. */
        hasBestMetric: boolean;

        /** TrainerState bestMetric. */
        bestMetric: number;

        /** TrainerState optimizerName. */
        optimizerName: string;

        /** TrainerState optimizerSlots. */
        optimizerSlots: artist.TensorData.$Properties[];

        /** TrainerState rng. */
        rng: { [k: string]: artist.RngState.$Properties };

        /** TrainerState dataCursor. */
        dataCursor: number;

        /** TrainerState configJson. */
        configJson: string;

        /** TrainerState extraJson. */
        extraJson: string;

        /** TrainerState createdAt. */
        createdAt: string;

        /**
         * Creates a new TrainerState instance using the specified properties.
         * @param [properties] Properties to set
         * @returns TrainerState instance
         */
        static create(properties: artist.TrainerState.$Shape): artist.TrainerState & artist.TrainerState.$Shape;
        static create(properties?: artist.TrainerState.$Properties): artist.TrainerState;

        /**
         * Encodes the specified TrainerState message. Does not implicitly {@link artist.TrainerState.verify|verify} messages.
         * @param m TrainerState message or plain object to encode
         * @param [w] Writer to encode to
         * @returns Writer
         */
        static encode(m: artist.TrainerState.$Properties, w?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Encodes the specified TrainerState message, length delimited. Does not implicitly {@link artist.TrainerState.verify|verify} messages.
         * @param message TrainerState message or plain object to encode
         * @param [writer] Writer to encode to
         * @returns Writer
         */
        static encodeDelimited(message: artist.TrainerState.$Properties, writer?: $protobuf.Writer): $protobuf.Writer;

        /**
         * Decodes a TrainerState message from the specified reader or buffer.
         * @param r Reader or buffer to decode from
         * @param [l] Message length if known beforehand
         * @returns {artist.TrainerState & artist.TrainerState.$Shape} TrainerState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decode(r: ($protobuf.Reader|Uint8Array), l?: number): artist.TrainerState & artist.TrainerState.$Shape;

        /**
         * Decodes a TrainerState message from the specified reader or buffer, length delimited.
         * @param reader Reader or buffer to decode from
         * @returns {artist.TrainerState & artist.TrainerState.$Shape} TrainerState
         * @throws {Error} If the payload is not a reader or valid buffer
         * @throws {$protobuf.util.ProtocolError} If required fields are missing
         */
        static decodeDelimited(reader: ($protobuf.Reader|Uint8Array)): artist.TrainerState & artist.TrainerState.$Shape;

        /**
         * Verifies a TrainerState message.
         * @param m Plain object to verify
         * @returns `null` if valid, otherwise the reason why it is not
         */
        static verify(m: { [k: string]: any }): (string|null);

        /**
         * Creates a TrainerState message from a plain object. Also converts values to their respective internal types.
         * @param d Plain object
         * @returns TrainerState
         */
        static fromObject(d: { [k: string]: any }): artist.TrainerState;

        /**
         * Creates a plain object from a TrainerState message. Also converts values to other types if specified.
         * @param m TrainerState
         * @param [o] Conversion options
         * @returns Plain object
         */
        static toObject(m: artist.TrainerState, o?: $protobuf.IConversionOptions): { [k: string]: any };

        /**
         * Converts this TrainerState to JSON.
         * @returns JSON object
         */
        toJSON(): { [k: string]: any };

        /**
         * Gets the type url for TrainerState
         * @param [prefix] Custom type url prefix, defaults to `"type.googleapis.com"`
         * @returns The type url
         */
        static getTypeUrl(prefix?: string): string;
    }

    namespace TrainerState {

        /** Properties of a TrainerState. */
        interface $Properties {

            /** TrainerState formatVersion */
            formatVersion?: (number|null);

            /** TrainerState step */
            step?: (number|null);

            /** TrainerState epoch */
            epoch?: (number|null);

            /** TrainerState hasBestMetric */
            hasBestMetric?: (boolean|null);

            /** TrainerState bestMetric */
            bestMetric?: (number|null);

            /** TrainerState optimizerName */
            optimizerName?: (string|null);

            /** TrainerState optimizerSlots */
            optimizerSlots?: (artist.TensorData.$Properties[]|null);

            /** TrainerState rng */
            rng?: ({ [k: string]: artist.RngState.$Properties }|null);

            /** TrainerState dataCursor */
            dataCursor?: (number|null);

            /** TrainerState configJson */
            configJson?: (string|null);

            /** TrainerState extraJson */
            extraJson?: (string|null);

            /** TrainerState createdAt */
            createdAt?: (string|null);

            /** Unknown fields preserved while decoding when enabled */
            $unknowns?: Uint8Array[];
        }

        /** Shape of a TrainerState. */
        type $Shape = artist.TrainerState.$Properties;
    }
}
