import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type dcmjsModule from 'dcmjs';
import dimse from 'dcmjs-dimse';
import type { Logger } from '../../logger';

const { Server, Scp, constants, responses } = dimse;
// dcmjs and dcmjs-dimse log every PDU and VR guess on the console; ContourBench logs what matters via pino.
// dcmjs-dimse loads dcmjs as CommonJS: that instance's loggers are the ones to quiet.
const dcmjs = createRequire(import.meta.url)('dcmjs') as typeof dcmjsModule;
dimse.log.setLevel('error');
dcmjs.log.setLevel('error');
// re-encoding implicit-VR pixel data ("ox") is expected, not a validation problem
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');
const {
  PresentationContextResult,
  RejectResult,
  RejectSource,
  RejectReason,
  SopClass,
  StorageClass,
  Status,
  TransferSyntax,
} = constants;

/** Storage SOP classes: dcmjs-dimse's image classes and the radiotherapy objects it does not list. */
const storageClasses = new Set<string>([
  ...Object.values(StorageClass as Record<string, string>),
  '1.2.840.10008.5.1.4.1.1.481.2', // RT Dose
  '1.2.840.10008.5.1.4.1.1.481.3', // RT Structure Set
  '1.2.840.10008.5.1.4.1.1.481.4', // RT Beams Treatment Record
  '1.2.840.10008.5.1.4.1.1.481.5', // RT Plan
  '1.2.840.10008.5.1.4.1.1.481.7', // RT Treatment Summary Record
  '1.2.840.10008.5.1.4.1.1.481.8', // RT Ion Plan
  '1.2.840.10008.5.1.4.1.1.66', // Raw Data
  '1.2.840.10008.5.1.4.1.1.66.1', // Spatial Registration
]);
const acceptedSyntaxes = [TransferSyntax.ExplicitVRLittleEndian, TransferSyntax.ImplicitVRLittleEndian];

export interface ReceivedInstance {
  studyInstanceUid: string;
  sopInstanceUid: string;
  file: string;
  callingAeTitle: string;
}

export interface StoreScpOptions {
  port: number;
  aeTitle: string;
  /** Received instances are written under spoolDir/<StudyInstanceUID>/<SOPInstanceUID>.dcm. */
  spoolDir: string;
  logger: Logger;
  onInstance: (instance: ReceivedInstance) => void;
}

export interface StoreScp {
  close(): void;
}

const safeName = (uid: string) => uid.replace(/[^0-9A-Za-z.]/g, '_').slice(0, 64) || 'unknown';

/**
 * A DICOM C-STORE service class provider (dcmjs-dimse): accepts associations addressed to `aeTitle`,
 * Verification (C-ECHO) and every storage SOP class in implicit or explicit VR little endian, and writes
 * each received instance as a Part 10 file into the spool folder of its study (written to a temporary
 * name and renamed, so a reader never sees half a file).
 */
export function startStoreScp(options: StoreScpOptions): StoreScp {
  const { aeTitle, spoolDir, logger, onInstance } = options;

  class ContourBenchScp extends Scp {
    private callingAeTitle = '';

    override associationRequested(association: dimse.association.Association): void {
      this.callingAeTitle = association.getCallingAeTitle();
      if (association.getCalledAeTitle().trim() !== aeTitle) {
        logger.warn(
          { called: association.getCalledAeTitle(), calling: this.callingAeTitle },
          'association to another AE title refused',
        );
        this.sendAssociationReject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CalledAeNotRecognized,
        );
        return;
      }
      for (const { id } of association.getPresentationContexts()) {
        const context = association.getPresentationContext(id);
        const abstract = context.getAbstractSyntaxUid();
        if (abstract !== SopClass.Verification && !storageClasses.has(abstract)) {
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        const offered = context.getTransferSyntaxUids();
        const syntax = acceptedSyntaxes.find((uid) => offered.includes(uid));
        if (syntax) context.setResult(PresentationContextResult.Accept, syntax);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      this.sendAssociationAccept();
    }

    override cEchoRequest(
      request: dimse.requests.CEchoRequest,
      callback: (response: dimse.responses.CEchoResponse) => void,
    ): void {
      const response = responses.CEchoResponse.fromRequest(request);
      response.setStatus(Status.Success);
      callback(response);
    }

    override cStoreRequest(
      request: dimse.requests.CStoreRequest,
      callback: (response: dimse.responses.CStoreResponse) => void,
    ): void {
      const response = responses.CStoreResponse.fromRequest(request);
      const dataset = request.getDataset();
      const study = dataset?.getElement('StudyInstanceUID');
      const instance = dataset?.getElement('SOPInstanceUID');
      if (!dataset || !study || !instance) {
        response.setStatus(Status.MissingAttribute);
        callback(response);
        return;
      }
      const folder = path.join(spoolDir, safeName(String(study)));
      const file = path.join(folder, `${safeName(String(instance))}.dcm`);
      const temporary = `${file}.${randomBytes(6).toString('hex')}.part`;
      mkdir(folder, { recursive: true })
        .then(
          () =>
            new Promise<void>((resolve, reject) => {
              dataset.toFile(temporary, (error) => (error ? reject(error) : resolve()));
            }),
        )
        .then(() => rename(temporary, file))
        .then(() => {
          response.setStatus(Status.Success);
          callback(response);
          onInstance({
            studyInstanceUid: String(study),
            sopInstanceUid: String(instance),
            file,
            callingAeTitle: this.callingAeTitle,
          });
        })
        .catch((error: unknown) => {
          logger.error({ err: error, file }, 'could not store a received instance');
          response.setStatus(Status.ProcessingFailure);
          callback(response);
        });
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }
  }

  const server = new Server(ContourBenchScp);
  server.on('networkError', (error: Error) => logger.error({ err: error }, 'DICOM network error'));
  server.listen(options.port);
  logger.info({ port: options.port, aeTitle }, 'DICOM C-STORE receiver listening');
  return { close: () => server.close() };
}
